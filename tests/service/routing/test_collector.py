"""Routing pauses the cyclic garbage collector while it builds and ranks its candidates,
and leaves it as it found it."""
from __future__ import annotations

import gc
import threading
from decimal import Decimal

import pytest

from service.routing import CaseFacts, ClinicFacts, Offer, fx, rank_clinics
from service.routing.collector import collector_paused


def test_the_collector_is_off_inside_and_back_on_after_even_on_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        with collector_paused():
            assert not gc.isenabled()
            with collector_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()  # the outer block still holds the pause
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_share_one_pause():
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    other = threading.Thread(target=hold)
    other.start()
    inside.wait(5)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the other thread's block is still open
    release.set()
    other.join(5)
    assert gc.isenabled()


def test_ranking_thousands_of_candidates_runs_no_collection():
    clinics = [
        ClinicFacts(
            slug=f"clinic-{n:05d}", name=f"Clinic {n}", country="DE", languages=("en", "de"),
            accreditations=("JCI",), accepting=True, capacity=20, open_referrals=n % 7,
            offers={"knee": Offer(Decimal(10000 + n), "EUR")}, response_hours=24.0, acceptance_rate=0.8,
        )
        for n in range(5000)
    ]
    case = CaseFacts(treatment_slug="knee", treatment_name="Knee replacement", language="en", country="KZ",
                     budget=Decimal(20000), budget_currency="EUR", preferred_clinic_slug=None, rates=fx.NO_RATES)
    collections: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        ranked = rank_clinics(case, clinics)
    finally:
        gc.callbacks.remove(seen)
    assert len(ranked) == 5000
    # Tens of thousands of objects: without the pause, dozens of collections ran while
    # ranking; with it, at most the one put off until the collector is back on.
    assert len(collections) <= 1
