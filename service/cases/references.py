"""Human case references, MT-<year>-<six digits>, numbered per year without gaps
from concurrent writers (a row lock on PostgreSQL, the write lock on SQLite)."""
from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import ReferenceCounter


def format_reference(year: int, number: int) -> str:
    return f"MT-{year}-{number:06d}"


def next_reference(session: Session, year: int) -> str:
    for _ in range(3):
        number = session.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.year == year)
            .values(last=ReferenceCounter.last + 1)
            .returning(ReferenceCounter.last)
        ).scalar_one_or_none()
        if number is not None:
            return format_reference(year, number)
        try:
            with session.begin_nested():
                session.execute(insert(ReferenceCounter).values(year=year, last=1))
            return format_reference(year, 1)
        except IntegrityError:
            continue  # another writer created the year's row first; take the next number
    raise RuntimeError("could not allocate a case reference")

