"""Reading the catalogue for forms and pages."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.extensions import db
from service.models import Clinic, Treatment


def treatments() -> list[Treatment]:
    return list(db.session.scalars(select(Treatment).order_by(Treatment.category, Treatment.name)))


def clinics() -> list[Clinic]:
    return list(
        db.session.scalars(
            select(Clinic).options(selectinload(Clinic.offers)).order_by(Clinic.name)
        )
    )


def categories() -> dict[str, list[Treatment]]:
    grouped: dict[str, list[Treatment]] = {}
    for treatment in treatments():
        grouped.setdefault(treatment.category, []).append(treatment)
    return grouped
