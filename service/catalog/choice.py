"""The patient's choice of treatment and clinic, checked against the database itself
with one query when a request is submitted (the cached catalogue only draws the form)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, literal, select

from service.extensions import db
from service.models import Clinic, ClinicTreatment, Treatment


@dataclass(frozen=True)
class Choice:
    """What the slugs name; `None` where a slug names nothing."""

    treatment: Treatment | None
    clinic: Clinic | None
    offered: bool


def look_up(treatment_slug: str, clinic_slug: str) -> Choice:
    """One row whatever exists: the treatment, the clinic and whether it offers it.

    A slug with a NUL names nothing (no slug has one, and PostgreSQL refuses it as a parameter)."""
    treatment_slug, clinic_slug = (_searchable(s) for s in (treatment_slug, clinic_slug))
    one = select(literal(1).label("one")).subquery()
    row = db.session.execute(
        select(Treatment, Clinic, ClinicTreatment.id)
        .select_from(one)
        .outerjoin(Treatment, Treatment.slug == treatment_slug)
        .outerjoin(Clinic, Clinic.slug == clinic_slug)
        .outerjoin(
            ClinicTreatment,
            and_(ClinicTreatment.clinic_id == Clinic.id, ClinicTreatment.treatment_id == Treatment.id),
        )
    ).one()
    return Choice(treatment=row[0], clinic=row[1], offered=row[2] is not None)


def _searchable(slug: str) -> str:
    return "" if "\x00" in slug else slug
