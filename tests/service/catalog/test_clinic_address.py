"""The clinic's street address: in the demo catalogue for every clinic, loaded like the
other fields (a second load changes nothing), and carried by the snapshot."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from service.catalog import snapshot
from service.catalog.loader import load_catalog
from service.extensions import db
from service.models import Clinic

CATALOG = Path(__file__).resolve().parents[3] / "data" / "catalog.json"


def test_every_demo_clinic_has_a_street_address():
    clinics = json.loads(CATALOG.read_text(encoding="utf-8"))["clinics"]
    for clinic in clinics:
        address = clinic.get("address") or ""
        # A street, a number and a postcode, not the city alone (what the old visa letter printed).
        assert len(address) > len(clinic["city"]["en"]) + 10 and any(ch.isdigit() for ch in address), clinic["slug"]
    assert len({c["address"] for c in clinics}) == len(clinics)


def test_the_loader_writes_the_address_and_the_snapshot_carries_it(app_ctx):
    data = json.loads(CATALOG.read_text(encoding="utf-8"))
    load_catalog(data)
    db.session.commit()
    wanted = {c["slug"]: c["address"] for c in data["clinics"]}
    stored = {c.slug: c.address for c in db.session.scalars(select(Clinic).where(Clinic.slug.in_(wanted)))}
    assert stored == wanted
    report = load_catalog(data)
    assert report.created == report.updated == 0
    data["clinics"][0]["address"] = "Changed Street 1, Istanbul"
    assert load_catalog(data).updated == 1
    db.session.commit()
    entry = next(c for c in snapshot.current().clinics if c.slug == data["clinics"][0]["slug"])
    assert entry.address == "Changed Street 1, Istanbul"
    load_catalog(json.loads(CATALOG.read_text(encoding="utf-8")))
    db.session.commit()
