"""Reduced reproducer for Medtour issue 13: the interpreter segfaults in the cyclic
garbage collector after eager-loaded ORM objects die in a reference cycle.

Depends only on SQLAlchemy and the standard library (SQLite in a temporary folder).
Each iteration loads 1,000 parents with `selectinload` of their 5,000 children, hands
the list to an object that is part of a reference cycle (as the request form did with
the clinics), drops it and closes the session. The objects are then freed by the
cyclic collector, not by reference counting; on CPython 3.11 (3.11.2 and 3.11.7 tried)
the process dies within a few iterations with "Fatal Python error: Segmentation fault"
/ "Garbage-collecting" (exit status 139 or -11). On CPython 3.10, 3.12 and 3.13 it
prints "no crash in N iterations" and exits 0. See docs/sqlalchemy-gc-segfault.md.

    python docs/sqlalchemy_gc_segfault.py               # the crashing pattern
    python docs/sqlalchemy_gc_segfault.py --no-cycle    # freed by refcount: no crash
    python docs/sqlalchemy_gc_segfault.py --no-eager    # lazy offers: no crash
    python docs/sqlalchemy_gc_segfault.py --gc-off      # collector disabled: no crash
    python docs/sqlalchemy_gc_segfault.py --url postgresql+psycopg://...  # any database
"""
from __future__ import annotations

import argparse
import faulthandler
import gc
import platform
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import ForeignKey, create_engine, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "gcsegv_clinics"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    offers: Mapped[list["Offer"]] = relationship(back_populates="clinic")


class Offer(Base):
    __tablename__ = "gcsegv_offers"
    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("gcsegv_clinics.id"))
    clinic: Mapped[Clinic] = relationship(back_populates="offers")


class Holder:
    """Stands for the request form: an object that sits in a reference cycle."""


def seed(engine, parents: int, children: int) -> None:
    """Core inserts, so no ORM object of the seeding survives into the loop."""
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(Clinic), [{"id": i, "name": f"clinic {i}"} for i in range(1, parents + 1)])
        conn.execute(insert(Offer), [{"clinic_id": i} for i in range(1, parents + 1) for _ in range(children)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--parents", type=int, default=1000)
    parser.add_argument("--children", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=45.0, help="stop looping after this long")
    parser.add_argument("--url", help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--no-cycle", action="store_true", help="drop the objects by reference count")
    parser.add_argument("--no-eager", action="store_true", help="no selectinload of the children")
    parser.add_argument("--gc-off", action="store_true", help="gc.disable() before the loop")
    args = parser.parse_args(argv)

    faulthandler.enable()
    print(f"Python {platform.python_version()} ({sys.executable}), SQLAlchemy {sqlalchemy.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(args.url or f"sqlite:///{Path(tmp) / 'gcsegv.db'}")
        seed(engine, args.parents, args.children)
        if args.gc_off:
            gc.disable()
        stmt = select(Clinic) if args.no_eager else select(Clinic).options(selectinload(Clinic.offers))
        started = time.monotonic()
        done = 0
        for done in range(1, args.iterations + 1):
            with Session(engine) as session:
                clinics = list(session.scalars(stmt))
                if not args.no_cycle:
                    holder = Holder()
                    holder.me = holder
                    holder.clinics = {clinic.id: clinic for clinic in clinics}
                    del holder
                del clinics
            print(f"iteration {done}", flush=True)
            if time.monotonic() - started > args.seconds:
                break
        gc.enable()
        gc.collect()
        if args.url:
            Base.metadata.drop_all(engine)
        engine.dispose()
    print(f"no crash in {done} iterations ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
