"""Explainable clinic routing.

`ranking` decides with plain functions over frozen facts (no Flask, no database);
`facts` is the only module here that reads the database; `weights` holds every
weight and threshold; `fx` the conversions with the exchange-rate table (budgets, quotes).
`service.cases.referrals` is the database shell that writes the referrals.
"""
from service.routing.facts import case_facts, clinic_facts, exchange_rates, referred_clinic_slugs
from service.routing.ranking import (
    CaseFacts,
    ClinicFacts,
    Component,
    Match,
    Offer,
    rank_clinics,
    top,
    unqualified_reason,
)

__all__ = [
    "CaseFacts",
    "ClinicFacts",
    "Component",
    "Match",
    "Offer",
    "case_facts",
    "clinic_facts",
    "exchange_rates",
    "rank_clinics",
    "referred_clinic_slugs",
    "top",
    "unqualified_reason",
]
