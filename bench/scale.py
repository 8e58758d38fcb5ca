"""Scale benchmark: the staff pages against 1,000, 10,000 and 100,000 cases.

`python bench/scale.py` creates a PostgreSQL database of its own (`bench_scale`, dropped
afterwards), builds the schema through the app and its migrations, loads the demo
catalogue and seeds cases in steps up to each size with COPY (a couple of minutes for
100,000), in realistic proportions: creation times spread over two years, older cases
mostly closed, the last weeks' in every open status (some overdue, some waiting on the
patient); per case about 2 attachments, 6 timeline events and 1.5 referrals, a quote per
accepted referral, a question per pause; ten coordinators to assign to. One case has
10 files and 200 timeline events: its case file and its patient's status page are
timed too. The SLA deadline column, where the schema has it, is filled by the same
function the application uses (`sla.stored_due`). PostgreSQL is then vacuumed and
analysed, as autovacuum would.

It then times in-process, with a signed-in coordinator's test client, `--rounds` times
per page: the queue (each status tab, a search, a filter by treatment, country and
assignee, overdue, sorted by due date, the last page, and the page just past the middle
of every case newest first, of the due sort and of every case by priority, once by
number and once by the Next link's cursor, with the ratio of the two), the CSV export
of every case (time, and peak Python memory while streaming it: tracemalloc), the
dashboard for 30 and 366 days, the case file and the status page. It prints, per size
and page, the time (min/median/max of the rounds, ms) and the number of SQL
statements, then whether the goals hold at the largest size: statement counts the same
at every size, every queue view <= 150 ms, the dashboard <= 500 ms for 366 days, and
the export's peak memory flat (the largest size's at most 1.5x the smallest's, with
100x the rows).

The code measured is the tree the script sits in. `--before DIR` times an older
checkout side by side on the same data: copy this script into DIR (with a `.venv`);
after each size is seeded (schema and data by this tree), the rounds alternate between
the two trees, one subprocess each per round, so both see the same machine load, and a
table per size prints both sides and the ratio of the medians. (The older code must run
against this schema: columns added since are ignored by it.) The CSV export is timed only
without `--before`. Statement counts are the fewest of a page's rounds: once a minute the
sign-in session's last-seen time is written, whatever the page.

`--smoke` seeds 200 and 400 cases, one round: it checks that the bench still runs
(tests/bench/test_smoke.py); its figures mean nothing.

Exit status: 0 when the measurement completed (goals met or not), 1 when it could not
be made.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import json
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from service.cases import sla, worklist  # noqa: E402
from service.catalog.loader import load_file  # noqa: E402
from service.extensions import db  # noqa: E402
from service.models import Case, Clinic, Treatment, User  # noqa: E402
from tests.fixtures.staff import sign_in  # noqa: E402
from wsgi import create_app  # noqa: E402

SIZES = (1000, 10000, 100000)
SMOKE = {"sizes": (200, 400), "rounds": 1}
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DATABASE = "bench_scale"
CATALOG = REPO / "data" / "catalog.json"
QUEUE_GOAL_MS = 150.0
DASHBOARD_GOAL_MS = 500.0
MEMORY_GROWTH_GOAL = 1.5
COORDINATORS = 10
SPAN_DAYS = 730
STATUS_TABS = ("open", "submitted", "needs_attention", "routed", "awaiting_patient", "chosen", "travel_booked",
               "in_treatment", "returned", "closed", "all")
OPEN_MIX = (("submitted", 25), ("needs_attention", 8), ("routed", 30), ("awaiting_patient", 10), ("chosen", 10),
            ("travel_booked", 7), ("in_treatment", 5), ("returned", 5))
CLOSED_REASONS = ("booked", "declined_by_patient", "no_suitable_clinic", "duplicate", "spam")
COUNTRIES = ("KZ", "RU", "UZ", "GB", "DE", "AE", "AZ", "GE", "AM", "KG")
NAMES = ("Aigerim Bekova", "Dmitri Sokolov", "Olga Ivanova", "Timur Nazarov", "Amina Karimova", "Sergei Petrov",
         "Jamshid Aliyev", "Elena Smirnova", "Nodira Yusupova", "Ruslan Abdullaev")
log = logging.getLogger("bench.scale")


# ---------------------------------------------------------------- database


def _admin(admin_url: str, statement: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(statement)


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """A new database `name` on the server of `admin_url`; its SQLAlchemy URL."""
    _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield str(make_url(admin_url).set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False))
    finally:
        if not keep:
            _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(database_url: str, tmp: Path, redis_url: str):
    return create_app({
        "TESTING": True,
        "SECRET_KEY": "bench-scale",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STORAGE_URL": f"file://{tmp / 'store'}",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "medtour.test",
        "REDIS_URL": redis_url,
    })


# ---------------------------------------------------------------- seeding


class Seeder:
    """Appends cases and what hangs off them with COPY, ids assigned here."""

    def __init__(self, url: str, now: datetime, rng: random.Random) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.now = now
        self.rng = rng
        self.count = 0
        self.ids = {"attachments": 0, "case_events": 0, "referrals": 0, "quotes": 0, "patient_questions": 0}
        with psycopg.connect(self.url) as connection:
            self.columns = {
                table: {row[0] for row in connection.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
                )}
                for table in ("cases", *self.ids)
            }
            self.treatments = [row[0] for row in connection.execute("SELECT id FROM treatments ORDER BY id")]
            clinics = connection.execute("SELECT clinic_id, treatment_id FROM clinic_treatments").fetchall()
            self.coordinators = [row[0] for row in connection.execute(
                "SELECT id FROM users WHERE role = 'coordinator' ORDER BY id"
            )]
        self.clinics_for: dict[int, list[int]] = {}
        for clinic_id, treatment_id in clinics:
            self.clinics_for.setdefault(treatment_id, []).append(clinic_id)
        self.treatments = [t for t in self.treatments if self.clinics_for.get(t)]
        self.stores_deadline = "sla_due_at" in self.columns["cases"] and hasattr(sla, "stored_due")

    def _status(self, age: timedelta) -> str:
        rng = self.rng
        if age > timedelta(days=60) and rng.random() < 0.93:
            return "closed"
        if age > timedelta(days=60):
            return rng.choice(("returned", "in_treatment", "chosen"))
        if rng.random() < 0.35:
            return "closed"
        statuses, weights = zip(*OPEN_MIX)
        return rng.choices(statuses, weights)[0]

    def add(self, n: int, *, big_case: bool = False) -> tuple[str, str] | None:
        """Append `n` cases; with `big_case`, the first has 10 files and 200 events and
        its reference and status token are returned."""
        rng, now = self.rng, self.now
        with psycopg.connect(self.url) as connection:  # the pages timed meanwhile add events
            for table in self.ids:
                self.ids[table] = connection.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
        rows: dict[str, list[tuple]] = {table: [] for table in ("cases", *self.ids)}
        case_columns: list[str] = []
        special = None
        for k in range(n):
            self.count += 1
            case_id = self.count
            age = timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400)) if k or not big_case else timedelta(days=3)
            created = now - age
            status = "routed" if (big_case and k == 0) else self._status(age)
            is_open = status != "closed"
            responded = None
            if status != "submitted" or rng.random() < 0.5:
                responded = created + timedelta(hours=rng.lognormvariate(1.5, 1.2))
                if responded > now:
                    responded = None if status == "submitted" else now
            referrals: list[SimpleNamespace] = []
            pauses: list[tuple[datetime, datetime]] = []
            paused_since = None
            paused_seconds = 0
            treatment_id = rng.choice(self.treatments)
            if status not in ("submitted",) and (is_open or rng.random() < 0.7):
                clinics = rng.sample(self.clinics_for[treatment_id], min(len(self.clinics_for[treatment_id]),
                                                                            rng.choice((1, 1, 2, 3))))
                sent = (responded or created) + timedelta(minutes=rng.uniform(5, 120))
                for clinic_id in clinics:
                    if status == "routed" or status == "awaiting_patient":
                        answer = rng.choice(("pending", "pending", "accepted", "declined"))
                    elif status == "needs_attention":
                        answer = "declined"
                    elif status == "closed":
                        answer = rng.choice(("accepted", "declined", "withdrawn"))
                    else:
                        answer = rng.choice(("accepted", "accepted", "declined"))
                    answered = sent + timedelta(hours=rng.uniform(1, 90)) if answer in ("accepted", "declined") else None
                    if answered is not None and answered > now:
                        answer, answered = "pending", None
                    self.ids["referrals"] += 1
                    referrals.append(SimpleNamespace(
                        id=self.ids["referrals"], clinic_id=clinic_id, status=answer, created_at=sent,
                        responded_at=answered,
                    ))
            if status == "awaiting_patient":
                paused_since = now - timedelta(hours=rng.uniform(1, 200))
                paused_since = max(paused_since, created + timedelta(minutes=30))
            elif rng.random() < 0.1 and age > timedelta(days=2):
                asked = created + timedelta(hours=rng.uniform(1, 24))
                answered_at = asked + timedelta(hours=rng.uniform(1, 48))
                if answered_at < now:
                    pauses.append((asked, answered_at))
                    paused_seconds = int((answered_at - asked).total_seconds())
            case = SimpleNamespace(
                id=case_id, status=status, created_at=created, first_response_at=responded,
                sla_paused_since=paused_since, sla_paused_seconds=paused_seconds,
            )
            name = rng.choice(NAMES)
            values: dict[str, Any] = {
                "id": case_id,
                "reference": f"MT-{created.year}-{case_id:06d}",
                "token_hash": hashlib.sha256(f"bench-token-{case_id}".encode()).hexdigest(),
                "status": status,
                "source": "web",
                "full_name": name,
                "email": f"patient{case_id}@example.org",
                "country": rng.choice(COUNTRIES),
                "language": rng.choice(("en", "ru")),
                "treatment_id": treatment_id,
                "description": "Knee pain for two years; an X-ray and an MRI are attached.",
                "assignee_id": rng.choice(self.coordinators) if responded and rng.random() < 0.8 else None,
                "priority": rng.choices(("low", "normal", "high", "urgent"), (10, 70, 15, 5))[0],
                "closed_reason": rng.choice(CLOSED_REASONS) if status == "closed" else None,
                "first_response_at": responded,
                "sla_paused_since": paused_since,
                "sla_paused_seconds": paused_seconds,
                "version": 1,
                "consent_at": created,
                "created_at": created,
                "updated_at": created,
            }
            if self.stores_deadline:
                values["sla_due_at"] = sla.stored_due(case, referrals, pauses)
            values = {k: v for k, v in values.items() if k in self.columns["cases"]}
            case_columns = list(values)
            rows["cases"].append(tuple(values.values()))
            if big_case and k == 0:
                special = (values["reference"], f"bench-token-{case_id}")
            for referral in referrals:
                rows["referrals"].append((
                    referral.id, case_id, referral.clinic_id, referral.status, round(rng.uniform(40, 95), 2), "[]",
                    referral.created_at, referral.responded_at,
                    "No capacity this month." if referral.status == "declined" else None,
                ))
                if referral.status == "accepted":
                    self.ids["quotes"] += 1
                    rows["quotes"].append((
                        self.ids["quotes"], referral.id, 1, Decimal(rng.randrange(3000, 30000)), "EUR", "[]",
                        (referral.responded_at + timedelta(days=20)).date(), rng.randint(3, 14),
                        (referral.responded_at + timedelta(days=60)).date(), "", referral.responded_at,
                    ))
            for asked, answered_at in pauses:
                self.ids["patient_questions"] += 1
                rows["patient_questions"].append((self.ids["patient_questions"], case_id, "Which knee is it?",
                                                  "submitted", asked, "The left one.", answered_at))
            if paused_since is not None:
                self.ids["patient_questions"] += 1
                rows["patient_questions"].append((self.ids["patient_questions"], case_id, "Which knee is it?",
                                                  "routed", paused_since, None, None))
            files = 10 if special and k == 0 else rng.choice((0, 1, 2, 2, 3, 4))
            for f in range(files):
                self.ids["attachments"] += 1
                rows["attachments"].append((
                    self.ids["attachments"], case_id, f"scan-{f + 1}.pdf",
                    f"cases/{case_id}/attachments/{self.ids['attachments']:08x}", "application/pdf",
                    rng.randint(100_000, 5_000_000), "0" * 64, False, created,
                ))
            events = 200 if special and k == 0 else rng.randint(3, 9)
            for e in range(events):
                self.ids["case_events"] += 1
                at = created + timedelta(minutes=e * rng.uniform(5, 120))
                if e == 0:
                    kind, details = "case_submitted", {"source": "web", "files": files}
                elif e % 3 == 1:
                    kind, details = "status_changed", {"old": "submitted", "new": status}
                else:
                    kind, details = "note", {"body": f"Called the patient ({e})."}
                rows["case_events"].append((self.ids["case_events"], case_id, "patient" if e == 0 else "system",
                                            kind, json.dumps(details), min(at, now)))
        columns = {
            "cases": case_columns,
            "referrals": ["id", "case_id", "clinic_id", "status", "score", "reasons", "created_at", "responded_at",
                          "decline_reason"],
            "quotes": ["id", "referral_id", "version", "price", "currency", "includes", "earliest_date", "stay_days",
                       "valid_until", "notes", "created_at"],
            "patient_questions": ["id", "case_id", "question", "resume_status", "asked_at", "answer", "answered_at"],
            "attachments": ["id", "case_id", "filename", "storage_key", "content_type", "size", "sha256",
                            "active_content", "created_at"],
            "case_events": ["id", "case_id", "actor", "kind", "details", "created_at"],
        }
        with psycopg.connect(self.url) as connection:
            for table in ("cases", "referrals", "quotes", "patient_questions", "attachments", "case_events"):
                if not rows[table]:
                    continue
                with connection.cursor().copy(f"COPY {table} ({', '.join(columns[table])}) FROM STDIN") as copy:
                    for row in rows[table]:
                        copy.write_row(row)
            for table in ("cases", *self.ids):
                connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT coalesce(max(id), 1) FROM {table}))")
            connection.commit()
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
        return special


# ---------------------------------------------------------------- timing


class Statements:
    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args) -> None:
        self.count += 1


def pages(app, special: tuple[str, str], today) -> dict[str, str]:
    with app.app_context():
        slug = db.session.scalar(select(Treatment.slug).order_by(Treatment.id))
        clinic = db.session.scalar(select(Clinic.slug).order_by(Clinic.id))
    queue = {f"queue tab {tab}": f"/staff/cases?status={tab}" for tab in STATUS_TABS}
    queue.update({
        "queue search": "/staff/cases?q=patient12",
        "queue filter treatment": f"/staff/cases?treatment={slug}",
        "queue filter country": "/staff/cases?country=KZ",
        "queue filter clinic": f"/staff/cases?clinic={clinic}",
        "queue filter mine": "/staff/cases?assignee=mine",
        "queue overdue": "/staff/cases?overdue=y",
        "queue sort due": "/staff/cases?sort=due",
        "queue sort due last page": "/staff/cases?sort=due&page=999999",
        "queue last page (all)": "/staff/cases?status=all&page=999999",
    })
    queue.update(middle_pages(app))
    return {
        **queue,
        "dashboard 30 days": f"/staff/dashboard?from={today - timedelta(days=29)}&to={today}",
        "dashboard 366 days": f"/staff/dashboard?from={today - timedelta(days=365)}&to={today}",
        "case file (10 files, 200 events)": f"/staff/cases/{special[0]}",
        "status page": f"/s/{special[1]}",
    }


MIDDLE_PAGES = (("all", "status=all"), ("due", "sort=due"), ("priority", "status=all&sort=priority"))


def middle_pages(app) -> dict[str, str]:
    """The page just past the middle, the worst case for OFFSET (read from the nearer
    end, it still skips half the rows), twice: by its number (`?page=`, LIMIT/OFFSET)
    and by the cursor of the last row of the page before (`?after=`, as the Next link
    has it: a keyset read and a count of the rows before, no OFFSET)."""
    found: dict[str, str] = {}
    now = datetime.now(timezone.utc)
    with app.app_context():
        for label, query in MIDDLE_PAGES:
            filters = worklist.QueueFilters(
                status="all" if "status=all" in query else worklist.OPEN, sort=query.partition("sort=")[2] or "newest"
            )
            total = worklist.count(db.session, filters, user_id=0, now=now)
            number = math.ceil(total / worklist.PER_PAGE) // 2 + 1
            found[f"queue middle page {label} (offset)"] = f"/staff/cases?{query}&page={number}"
            if hasattr(worklist, "cursor_token"):  # an older tree (--before) has no cursors
                before = worklist.page(db.session, replace(filters, page=number - 1), user_id=0, now=now)
                token = worklist.cursor_token(before.last_position, app.config["SECRET_KEY"])
                found[f"queue middle page {label} (cursor)"] = f"/staff/cases?{query}&after={token}"
        db.session.remove()
    return found


def measure(app, client, statements: Statements, path: str, rounds: int) -> tuple[list[float], int]:
    times, counts = [], set()
    for _ in range(rounds):
        before = statements.count
        start = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        times.append((time.perf_counter() - start) * 1000)
        counts.add(statements.count - before)
        if response.status_code != 200 or not body:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
    # The fewest of the rounds: once a minute the sign-in session's last-seen time is
    # written (service.accounts.sessions.TOUCH_EVERY), whatever the page.
    return times, min(counts)


def measure_export(client, statements: Statements, rounds: int) -> tuple[list[float], int, float, int]:
    """The CSV of every case, read a chunk at a time as a WSGI server would."""
    times, peaks, lines, count = [], [], 0, 0
    for _ in range(rounds):
        before = statements.count
        tracemalloc.start()
        start = time.perf_counter()
        response = client.get("/staff/cases.csv?status=all", buffered=False)
        lines = sum(chunk.count(b"\n") for chunk in response.response)
        response.close()
        times.append((time.perf_counter() - start) * 1000)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
        count = min(count or statements.count - before, statements.count - before)
    return times, count, max(peaks), lines - 1


def fmt(times: list[float]) -> str:
    return f"{min(times):8.1f} {statistics.median(times):8.1f} {max(times):8.1f}"


def time_pages(url: str, redis_url: str, special: tuple[str, str], rounds: int, export_rounds: int,
               now: datetime) -> tuple[dict[str, tuple[list[float], int]], tuple[list[float], int, float, int] | None]:
    """Every page `rounds` times (after one warming visit) against the database at `url`."""
    results: dict[str, tuple[list[float], int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(url, Path(tmp), redis_url)
        with app.app_context():
            statements = Statements(db.engine)
            client = app.test_client()
            sign_in(client, db.session.scalar(select(User).where(User.email == "coordinator0@medtour.example")))
            # As a served app starts (wsgi: service.heap.settle), for either tree: the
            # start-up heap frozen, so no full collection of it lands on a timed page.
            gc.collect()
            gc.freeze()
            for label, path in pages(app, special, now.date()).items():
                client.get(path)  # warm: templates compiled, plans cached
                results[label] = measure(app, client, statements, path, rounds)
            export = measure_export(client, statements, export_rounds) if export_rounds else None
            db.session.remove()
            db.engine.dispose()
    return results, export


def _time_elsewhere(tree: Path, url: str, redis_url: str, special: tuple[str, str], rounds: int,
                    export_rounds: int) -> tuple[dict[str, tuple[list[float], int]], Any]:
    """`time_pages` run by the copy of this script in another checkout (its code, this database)."""
    command = [str(tree / ".venv" / "bin" / "python"), str(tree / "bench" / "scale.py"), "--time-only", url,
               "--special", ",".join(special), "--rounds", str(rounds), "--export-rounds", str(export_rounds),
               "--redis-url", redis_url]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: tuple(v) for k, v in found["pages"].items()}, found["export"]


def compare(sizes, args, url: str, seeder: Seeder, now: datetime) -> None:
    """Old and new code side by side on the same data: the rounds alternate between the
    two trees (one subprocess each per round), so both see the same machine load."""
    special = None
    for size in sizes:
        found = seeder.add(size - seeder.count, big_case=special is None)
        special = special or found
        both: dict[str, dict[str, tuple[list[float], int]]] = {"before": {}, "after": {}}
        for n in range(args.rounds):
            for name, tree in (("before", Path(args.before)), ("after", REPO)):
                pages_found, _ = _time_elsewhere(tree, url, args.redis_url, special, 1, 0)
                for label, (times, count) in pages_found.items():
                    kept = both[name].setdefault(label, ([], count))
                    kept[0].extend(times)
        print(f"\n{size:,} cases, before = {args.before}, after = {REPO} (ms: min / median / max of "
              f"{args.rounds} alternating rounds; statements)")
        print(f"  {'page':34} {'before':>26} {'st':>4}  {'after':>26} {'st':>4}  {'after/before':>12}")
        for label, (new_times, new_count) in both["after"].items():
            if label not in both["before"]:  # a page the older tree has not (the cursor pages)
                print(f"  {label:34} {'-':>26} {'-':>4}  {fmt(new_times)} {new_count:4d}  {'-':>12}")
                continue
            times, count = both["before"][label]
            ratio = statistics.median(new_times) / statistics.median(times)
            print(f"  {label:34} {fmt(times)} {count:4d}  {fmt(new_times)} {new_count:4d}  {ratio:11.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="case counts, ascending")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--export-rounds", type=int, default=2)
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL, help="a URL of the server's postgres database")
    parser.add_argument("--database", default=POSTGRES_DATABASE, help="the database to create (and drop)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (to EXPLAIN its queries)")
    parser.add_argument("--seed-only", action="store_true", help="seed the sizes, time nothing (with --keep)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round: does the bench still run")
    parser.add_argument("--before", help="an older checkout (with this script and a .venv) to time side by side")
    parser.add_argument("--time-only", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--special", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_only:
        with contextlib.redirect_stdout(sys.stderr):
            found, export = time_pages(args.time_only, args.redis_url, tuple(args.special.split(",")), args.rounds,
                                       args.export_rounds, datetime.now(timezone.utc))
        print(json.dumps({"pages": found, "export": export}))
        return 0
    sizes = SMOKE["sizes"] if args.smoke else tuple(int(s) for s in args.sizes.split(","))
    rounds = SMOKE["rounds"] if args.smoke else args.rounds
    export_rounds = 1 if args.smoke else args.export_rounds
    logging.basicConfig(level=logging.WARNING)
    now = datetime.now(timezone.utc)
    results: dict[int, dict[str, tuple[list[float], int]]] = {}
    exports: dict[int, tuple[list[float], int, float, int]] = {}
    print(f"bench/scale.py: PostgreSQL, sizes {', '.join(f'{s:,}' for s in sizes)}, {rounds} round(s) per page, "
          f"code of {REPO}")
    try:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(args.postgres, args.database, keep=args.keep) as url:
            app = make_app(url, Path(tmp), args.redis_url)
            with app.app_context(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                upgrade()
                load_file(CATALOG)
                for n in range(COORDINATORS + 1):
                    db.session.add(User(email=f"coordinator{n}@medtour.example", password_hash="!", role="coordinator",
                                        active=True))
                db.session.commit()
            seeder = Seeder(url, now, random.Random(20))
            if args.before:
                compare(sizes, args, url, seeder, now)
                return 0
            special = None
            for size in sizes:
                start = time.perf_counter()
                found = seeder.add(size - seeder.count, big_case=special is None)
                special = special or found
                print(f"seeded {size:,} cases in {time.perf_counter() - start:.1f} s")
                if args.seed_only:
                    continue
                with app.app_context():
                    db.engine.dispose()
                    statements = Statements(db.engine)
                    client = app.test_client()
                    me = db.session.scalar(select(User).where(User.email == "coordinator0@medtour.example"))
                    sign_in(client, me)
                    assert db.session.scalar(select(func.count(Case.id))) == size
                    results[size] = {}
                    for label, path in pages(app, special, now.date()).items():
                        client.get(path)  # warm: templates compiled, plans cached
                        results[size][label] = measure(app, client, statements, path, rounds)
                    exports[size] = measure_export(client, statements, export_rounds)
                    db.session.remove()
                    db.engine.dispose()
    except (psycopg.Error, RuntimeError, OSError) as exc:
        print(f"could not measure: {exc}", file=sys.stderr)
        return 1
    if not args.seed_only:
        report(sizes, results, exports)
    return 0


def report(sizes, results, exports) -> None:
    labels = list(results[sizes[0]])
    for size in sizes:
        print(f"\n{size:,} cases                       ms: min   median      max  statements")
        for label in labels:
            times, count = results[size][label]
            print(f"  {label:34} {fmt(times)}  {count:5d}")
        times, count, peak, lines = exports[size]
        print(f"  {'CSV export, every case':34} {fmt(times)}  {count:5d}   rows {lines:,}  peak {peak:.2f} MiB")
        for label, _query in MIDDLE_PAGES:
            offset = statistics.median(results[size][f"queue middle page {label} (offset)"][0])
            cursor = statistics.median(results[size][f"queue middle page {label} (cursor)"][0])
            print(f"  middle page {label}: cursor / offset (medians) {cursor / offset:.2f}x")
    largest = sizes[-1]
    same = all(results[s][label][1] == results[sizes[0]][label][1] for s in sizes for label in labels)
    queue = {label: statistics.median(results[largest][label][0]) for label in labels if label.startswith("queue")}
    worst = max(queue, key=queue.get)
    dashboard = statistics.median(results[largest]["dashboard 366 days"][0])
    growth = exports[largest][2] / max(exports[sizes[0]][2], 1e-9)
    print(f"\ngoal: statement counts the same at every size: {'met' if same else 'MISSED'}")
    print(f"goal: every queue view <= {QUEUE_GOAL_MS:.0f} ms at {largest:,} cases: "
          f"{'met' if queue[worst] <= QUEUE_GOAL_MS else 'MISSED'} (slowest: {worst}, {queue[worst]:.1f} ms)")
    print(f"goal: dashboard for 366 days <= {DASHBOARD_GOAL_MS:.0f} ms at {largest:,} cases: "
          f"{'met' if dashboard <= DASHBOARD_GOAL_MS else 'MISSED'} ({dashboard:.1f} ms)")
    print(f"goal: CSV export memory flat (peak at {largest:,} / at {sizes[0]:,} <= {MEMORY_GROWTH_GOAL}): "
          f"{'met' if growth <= MEMORY_GROWTH_GOAL else 'MISSED'} ({growth:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
