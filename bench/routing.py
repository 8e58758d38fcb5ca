"""Routing benchmark: how routing one case grows with the size of the catalogue.

`python bench/routing.py` builds synthetic catalogues of 100, 1,000 and 10,000 clinics
on SQLite (a temporary file per size) and on PostgreSQL (a fresh database of its own,
`bench_routing` unless `--postgres-database` names another, created on `--postgres` and
dropped after), each through the app and its migrations (`create_app` +
`flask_migrate.upgrade()`), bulk-inserted: 20
treatments, each clinic offering 3 to 8 of them (so about 28 % of the clinics are
candidates for a case), in currencies of the indicative table plus one without a
rate; and, so that the open-referral count has work to do, background referrals in
every status (on average a third of each clinic's capacity open, as many again
closed). PostgreSQL is then vacuumed and analysed, as autovacuum would.

Then it routes `--cases` synthetic cases (random treatment, language, budget in
several currencies, one in ten with a chosen clinic), `--rounds` times, and times per
case:

* full path: `clinic_facts(session, treatment_id)` + `rank_clinics(..., limit=3)`,
  as the routing job runs it, without writing referrals (a tree whose `rank_clinics`
  has no `limit`: `top(rank_clinics(...), 3)`);
* rank alone: the same shortlist on facts loaded beforehand.

It prints, per database and size, ms per case (min/median/max of the rounds' means),
the cost per candidate (full path ms / candidates per case, in microseconds), and the
growth of that cost from one size to the next (<= 1.1: linear; the goal), then the
plan of the candidate query (`EXPLAIN`) at 1,000 clinics and whether the goal holds:
under 10 ms per case at 1,000 clinics.

A last table, "every clinic a candidate", repeats the full path for a tenth of the
cases with a treatment offered by every clinic: the worst case for a catalogue of that
size.

The code measured is the tree the script sits in. `--before DIR` times an older
checkout side by side instead: for each database and size, two subprocesses run this
script, one with DIR's code (its models, migrations and routing; this script's
catalogue, so both see the same data) and one with this tree's, each on a database of
its own (PostgreSQL: `bench_routing_before`, `bench_routing_after`, or the
`--postgres-database` name with those suffixes); the rounds of the
full path alternate between them, so both see the same machine load. It prints, per
size, both sides' ms per case (min/median/max), after/before of the medians, the cost
per candidate of each, the growth of both, and both plans. (The older tree needs only
`clinic_facts(session, treatment_id)`, `rank_clinics`, `top` and `CaseFacts.rates`, and
tables with the columns inserted here.)

`--smoke` routes 20 cases against 10, 100 and 500 clinics, one round, in seconds: it
checks that the bench still runs (tests/bench/test_smoke.py), its figures mean nothing.

Exit status: 0 when the measurement completed (goal met or not), 1 when it could not
be made.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import inspect
import io
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

# The tree whose code is measured: this script's, or the older checkout a `--before`
# run starts this script in (the environment variable is set only for that subprocess).
TREE_VARIABLE = "ROUTING_BENCH_TREE"
REPO = Path(os.environ.get(TREE_VARIABLE) or Path(__file__).resolve().parent.parent).resolve()
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from service.cases.status import ReferralStatus  # noqa: E402
from service.extensions import db  # noqa: E402
from service.models import Case, Clinic, ClinicTreatment, Referral, Treatment  # noqa: E402
from service.routing import CaseFacts, ClinicFacts, clinic_facts, rank_clinics, top  # noqa: E402
from service.routing.facts import _CLINIC_FACTS  # noqa: E402
from service.catalog.rates import parse_rates  # noqa: E402
from service.routing import fx  # noqa: E402
from wsgi import create_app  # noqa: E402

GOAL_MS = 10.0
GOAL_SIZE = 1000
GOAL_GROWTH = 1.1
SIZES = (100, 1000, 10000)
SMOKE = {"cases": 20, "sizes": (10, 100, 500), "rounds": 1}
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DATABASE = "bench_routing"
TREATMENTS = 20
UNIVERSAL = "universal-treatment"  # offered by every clinic: the worst case
LANGUAGES = ("en", "ru", "de", "ar", "tr", "fr", "es", "he", "ko", "zh", "th", "hi", "uk", "kk", "pl", "cs")
ACCREDITATIONS = ("JCI", "DNV", "ISO 9001", "NABH", "TEMOS", "ACHSI", "Regional Board")
_SOURCE, _AS_OF, _TABLE = parse_rates(json.loads((REPO / "data" / "exchange_rates.json").read_text(encoding="utf-8")))
RATES = fx.Rates({code: fx.Rate(rate, _AS_OF) for code, rate in _TABLE.items()}, _SOURCE)
CURRENCIES = (*RATES.table, "XOF")  # XOF has no indicative rate: budget comparison skipped
COUNTRIES = ("TR", "DE", "IL", "KR", "TH", "IN", "CZ", "ES", "LT", "PL", "AE", "MX")


@dataclass
class Catalogue:
    treatment_ids: dict[str, int]  # slug -> id
    treatment_names: dict[str, str]
    clinic_slugs: list[str]
    candidates: dict[str, int]  # treatment slug -> clinics offering it


def build_catalogue(size: int, rng: random.Random) -> Catalogue:
    """Bulk-insert treatments, `size` clinics with their offers, and background referrals."""
    treatments = [
        {"id": i + 1, "slug": f"treatment-{i:02d}", "name": f"Treatment {i}", "category": "orthopaedics", "description": ""}
        for i in range(TREATMENTS)
    ]
    treatments.append(
        {"id": TREATMENTS + 1, "slug": UNIVERSAL, "name": "Universal treatment", "category": "dental", "description": ""}
    )
    clinics, offers = [], []
    capacities: list[int] = []
    for c in range(1, size + 1):
        capacity = rng.randint(5, 30)
        capacities.append(capacity)
        clinics.append({
            "id": c,
            "slug": f"clinic-{c:05d}",
            "name": f"Clinic {c}",
            "city": "City",
            "country": rng.choice(COUNTRIES),
            "languages": rng.sample(LANGUAGES, rng.randint(1, 4)),
            "accreditations": rng.sample(ACCREDITATIONS, rng.choice((0, 0, 1, 1, 1, 2))),
            "capacity": capacity,
            "accepting": rng.random() < 0.9,
            "email": f"referrals@clinic-{c}.example",
            "website": None,
            "response_hours": rng.choice((None, *range(4, 96, 4))),
            "acceptance_rate": None if rng.random() < 0.1 else Decimal(rng.randint(300, 990)) / 1000,
        })
        offered = rng.sample(range(1, TREATMENTS + 1), rng.randint(3, 8)) + [TREATMENTS + 1]
        for t in offered:
            offers.append({
                "clinic_id": c,
                "treatment_id": t,
                "price_from": Decimal(rng.randint(1000, 60000)),
                "currency": rng.choice(CURRENCIES),
            })

    # Background cases and referrals: about a third of each clinic's capacity open and
    # as many closed, so the open-referral count scans a realistic referrals table.
    case_count = 400
    now = datetime.now(timezone.utc)
    cases = [
        {
            "id": i, "reference": f"MT-B-{i:06d}", "token_hash": hashlib.sha256(str(i).encode()).hexdigest(),
            "status": "routed", "source": "web", "full_name": "Bench Patient", "email": "p@example.org",
            "country": "KZ", "language": "ru", "treatment_id": 1, "description": "bench",
            "consent_at": now, "created_at": now, "updated_at": now,
        }
        for i in range(1, case_count + 1)
    ]
    referrals = []
    statuses = list(ReferralStatus)
    for c, capacity in enumerate(capacities, start=1):
        for case_id in rng.sample(range(1, case_count + 1), min(case_count, capacity * 2 // 3)):
            referrals.append({
                "case_id": case_id, "clinic_id": c, "status": rng.choice(statuses), "score": 1.0,
                "reasons": [], "created_at": now,
            })

    session = db.session
    session.execute(insert(Treatment.__table__), treatments)
    session.execute(insert(Clinic.__table__), clinics)
    session.execute(insert(ClinicTreatment.__table__), offers)
    session.execute(insert(Case.__table__), cases)
    session.execute(insert(Referral.__table__), referrals)
    session.commit()

    candidates: dict[str, int] = {}
    slug_by_id = {t["id"]: t["slug"] for t in treatments}
    for offer in offers:
        slug = slug_by_id[offer["treatment_id"]]
        candidates[slug] = candidates.get(slug, 0) + 1
    return Catalogue(
        treatment_ids={t["slug"]: t["id"] for t in treatments},
        treatment_names={t["slug"]: t["name"] for t in treatments},
        clinic_slugs=[c["slug"] for c in clinics],
        candidates=candidates,
    )


# The tree's way to take the best three: `rank_clinics(..., limit=3)` where it has a
# limit (only the winners get their components), else the whole ranking cut by `top`.
if "limit" in inspect.signature(rank_clinics).parameters:
    def shortlist(case: CaseFacts, clinics: list[ClinicFacts]) -> list:
        return rank_clinics(case, clinics, limit=3)
else:  # an older tree (--before)
    def shortlist(case: CaseFacts, clinics: list[ClinicFacts]) -> list:
        return top(rank_clinics(case, clinics), 3)


def make_cases(n: int, catalogue: Catalogue, rng: random.Random, *, treatment: str | None = None) -> list[CaseFacts]:
    slugs = [s for s in catalogue.treatment_ids if s != UNIVERSAL]
    cases = []
    for _ in range(n):
        slug = treatment or rng.choice(slugs)
        with_budget = rng.random() < 0.7
        cases.append(CaseFacts(
            treatment_slug=slug,
            treatment_name=catalogue.treatment_names[slug],
            language=rng.choice(LANGUAGES),
            country=rng.choice(("KZ", "UA", "DE", "AE", "GB")),
            budget=Decimal(rng.randint(2000, 50000)) if with_budget else None,
            budget_currency=rng.choice(("EUR", "USD", "GBP", "RUB", "KZT", "XOF")) if with_budget else None,
            preferred_clinic_slug=rng.choice(catalogue.clinic_slugs) if rng.random() < 0.1 else None,
            rates=RATES,
        ))
    return cases


@dataclass
class Timing:
    """Mean ms per case of each round."""

    rounds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    def spread(self) -> str:
        return f"{min(self.rounds):.3f} / {self.median:.3f} / {max(self.rounds):.3f}"


def time_per_case(cases: list[CaseFacts], run: Callable[[CaseFacts], object], rounds: int) -> Timing:
    for case in cases[:20]:  # warm-up: statement cache, connection, imports
        run(case)
    clock = time.perf_counter
    means = []
    # What was set up before the timing (the catalogue, the cases and, in-process, every
    # treatment's facts for "rank alone") frozen out of the collector's reach, as a
    # served worker freezes what it starts with (service.heap.settle): a full collection
    # of the bench's own set-up then lands in no timed round.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(rounds):
            start = clock()
            for case in cases:
                run(case)
            means.append((clock() - start) * 1000 / len(cases))
    finally:
        gc.unfreeze()
    return Timing(means)


@dataclass
class SizeResult:
    size: int
    mean_candidates: float
    full: Timing
    rank: Timing
    worst: Timing
    plan: list[str]

    @property
    def us_per_candidate(self) -> float:
        return self.full.median * 1000 / self.mean_candidates


def candidate_plan(connection) -> list[str]:
    """The database's plan of the candidate query, for one treatment."""
    sql = str(_CLINIC_FACTS.params(treatment_id=1).compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    ))
    if connection.dialect.name == "sqlite":
        return [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
    return [row[0] for row in connection.exec_driver_sql(f"EXPLAIN {sql}")]


@contextlib.contextmanager
def database(kind: str, size: int, workdir: Path, admin_url: str, name: str = POSTGRES_DATABASE):
    """The URL of an empty database for one catalogue: a file, or a fresh PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'routing-{size}.db'}"
        return
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    server = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def catalogue_app(kind: str, size: int, args: argparse.Namespace, workdir: Path, name: str = POSTGRES_DATABASE):
    """An app context on a fresh database holding the synthetic catalogue of `size`
    clinics, schema by this tree's migrations; yields the catalogue and the seeded rng."""
    rng = random.Random(args.seed + size)
    with database(kind, size, workdir, args.postgres, name) as url:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": url,
            "STORAGE_URL": f"file://{workdir / f'store-{size}'}",
            "SECRET_KEY": "bench",
            "LOG_LEVEL": "WARNING",
        })
        with app.app_context():
            try:
                with contextlib.redirect_stderr(io.StringIO()):  # Alembic's own log configuration
                    upgrade()
                catalogue = build_catalogue(size, rng)
                if kind == "postgresql":  # what autovacuum does to a table after a bulk load
                    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        conn.execute(text("VACUUM ANALYZE"))
                yield catalogue, rng
            finally:
                db.session.remove()
                db.engine.dispose()


def measure(kind: str, size: int, args: argparse.Namespace, workdir: Path) -> SizeResult:
    with catalogue_app(kind, size, args, workdir, args.postgres_database) as (catalogue, rng):
        return _measure(catalogue, rng, args)


def _measure(catalogue: Catalogue, rng: random.Random, args: argparse.Namespace) -> SizeResult:
    size = len(catalogue.clinic_slugs)
    cases = make_cases(args.cases, catalogue, rng)
    session = db.session
    ids = catalogue.treatment_ids

    def full_path(case: CaseFacts) -> list:
        return shortlist(case, clinic_facts(session, ids[case.treatment_slug]))

    facts: dict[str, list[ClinicFacts]] = {slug: clinic_facts(session, tid) for slug, tid in ids.items()}

    def rank_alone(case: CaseFacts) -> list:
        return shortlist(case, facts[case.treatment_slug])

    # Sanity: both paths pick the same clinics.
    for case in cases[:50]:
        if [m.clinic_slug for m in full_path(case)] != [m.clinic_slug for m in rank_alone(case)]:
            raise RuntimeError("the full path and the ranking alone disagree")

    full = time_per_case(cases, full_path, args.rounds)
    rank = time_per_case(cases, rank_alone, args.rounds)
    worst_cases = make_cases(max(20, args.cases // 10), catalogue, rng, treatment=UNIVERSAL)
    worst = time_per_case(worst_cases, full_path, args.rounds)
    mean_candidates = statistics.fmean(catalogue.candidates.get(c.treatment_slug, 0) for c in cases)
    plan = candidate_plan(session.connection())
    session.rollback()
    return SizeResult(size, mean_candidates, full, rank, worst, plan)


def report(kind: str, results: dict[int, SizeResult], args: argparse.Namespace) -> None:
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    print(f"Routing {args.cases} cases per catalogue, {args.rounds} round(s) ({name}, Python {sys.version.split()[0]})")
    print("ms per case: min / median / max of the rounds' means")
    print()
    print(f"{'clinics':>8} {'candidates/case':>16} {'full path ms/case':>18} {'us/cand':>8} {'rank alone ms/case':>19} {'max':>7}")
    for r in results.values():
        print(
            f"{r.size:>8,} {r.mean_candidates:>16.0f} {r.full.median:>18.3f} {r.us_per_candidate:>8.2f}"
            f" {r.rank.median:>19.3f} {max(r.rank.rounds):>7.3f}"
        )
    for r in results.values():
        print(f"  {r.size:>6,} clinics: full path {r.full.spread()}, rank alone {r.rank.spread()}")
    print()
    print(f"growth of the cost per candidate (full path; <= {GOAL_GROWTH:g} means linear):")
    growths = []
    for small, big in zip(args.sizes, args.sizes[1:]):
        factor = big / small
        full = results[big].us_per_candidate / results[small].us_per_candidate
        rank = (results[big].rank.median / results[big].mean_candidates) / (
            results[small].rank.median / results[small].mean_candidates
        )
        growths.append(full)
        print(f"  {big:,} vs {small:,} ({factor:g}x clinics): full path {full:.2f}, rank alone {rank:.2f}")
    print()
    print("every clinic a candidate (worst case), full path, min / median / max:")
    for r in results.values():
        print(f"  {r.size:>6,} clinics: {r.worst.spread()} ms/case")
    goal_size = GOAL_SIZE if GOAL_SIZE in results else max(results)
    print()
    print(f"plan of the candidate query at {goal_size:,} clinics:")
    for line in results[goal_size].plan:
        print(f"  {line}")
    print()
    goal = f"goal: under {GOAL_MS:g} ms per case at {GOAL_SIZE:,} clinics on {name}:"
    if GOAL_SIZE not in results:
        print(f"{goal} not measured (no catalogue of {GOAL_SIZE:,} clinics in this run)")
    else:
        met = results[GOAL_SIZE].full.median < GOAL_MS
        print(f"{goal} {'met' if met else 'NOT met'} ({results[GOAL_SIZE].full.median:.3f} ms)")
    worst_growth = max(growths) if growths else 0.0
    print(f"goal: growth <= {GOAL_GROWTH:g} on {name}: {'met' if worst_growth <= GOAL_GROWTH else 'NOT met'}"
          f" (worst {worst_growth:.2f})")
    print()


# ---------------------------------------------------------------- --before: side by side

SIDE_MARK = "routing-side "  # prefixes the JSON lines a side writes to the bench


def serve(args: argparse.Namespace) -> int:
    """One side of a `--before` run (`--serve-size`): builds the catalogue with the tree
    it runs in (REPO), says so in one JSON line (candidates per case, plan), then times
    one round of the full path for each "round" line read, one JSON line each (ms/case),
    until its input ends."""
    workdir = Path(tempfile.mkdtemp(prefix="medtour-routing-side-"))
    try:
        with catalogue_app(args.database, args.serve_size, args, workdir, args.postgres_database) as (catalogue, rng):
            cases = make_cases(args.cases, catalogue, rng)
            session = db.session
            ids = catalogue.treatment_ids

            def full_path(case: CaseFacts) -> list:
                return shortlist(case, clinic_facts(session, ids[case.treatment_slug]))

            mean_candidates = statistics.fmean(catalogue.candidates.get(c.treatment_slug, 0) for c in cases)
            ready = {"candidates": mean_candidates, "plan": candidate_plan(session.connection())}
            print(SIDE_MARK + json.dumps(ready), flush=True)
            for line in sys.stdin:
                if line.strip() != "round":
                    break
                ms = time_per_case(cases, full_path, 1).rounds[0]
                print(SIDE_MARK + json.dumps({"ms": ms}), flush=True)
            session.rollback()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


@dataclass
class Side:
    """One tree's full path at one size, timed in a subprocess of its own."""

    tree: Path
    candidates: float
    plan: list[str]
    timing: Timing

    @property
    def us_per_candidate(self) -> float:
        return self.timing.median * 1000 / self.candidates


def _read_side(process: subprocess.Popen) -> dict:
    for line in process.stdout:
        if line.startswith(SIDE_MARK):
            return json.loads(line[len(SIDE_MARK):])
    raise RuntimeError(f"a side exited early (status {process.wait()})")


def side_by_side(kind: str, size: int, args: argparse.Namespace) -> dict[str, Side]:
    """Both trees at one size: each builds the same catalogue (same seed, same code
    here, its own models and migrations) in a subprocess, then the rounds alternate
    between them, first one then the other, so both see the same machine load."""
    trees = {"before": Path(args.before).resolve(), "after": Path(__file__).resolve().parent.parent}
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, tree in trees.items():
            command = [
                sys.executable, str(Path(__file__).resolve()), "--serve-size", str(size), "--database", kind,
                "--cases", str(args.cases), "--seed", str(args.seed), "--postgres", args.postgres,
                "--postgres-database", f"{args.postgres_database}_{name}",
            ]
            processes[name] = subprocess.Popen(
                command, cwd=tree, env={**os.environ, TREE_VARIABLE: str(tree)},
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
        ready = {name: _read_side(process) for name, process in processes.items()}
        rounds: dict[str, list[float]] = {name: [] for name in processes}
        for r in range(args.rounds):
            for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
                processes[name].stdin.write("round\n")
                processes[name].stdin.flush()
                rounds[name].append(_read_side(processes[name])["ms"])
    finally:
        for process in processes.values():
            with contextlib.suppress(OSError):
                process.stdin.close()
        for process in processes.values():
            process.wait(timeout=120)
    return {
        name: Side(trees[name], ready[name]["candidates"], ready[name]["plan"], Timing(rounds[name]))
        for name in processes
    }


def report_side_by_side(kind: str, results: dict[int, dict[str, Side]], args: argparse.Namespace) -> None:
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    first = next(iter(results.values()))
    print(f"Routing {args.cases} cases per catalogue, {args.rounds} round(s) alternating, full path"
          f" ({name}, Python {sys.version.split()[0]})")
    print(f"before = {first['before'].tree}, after = {first['after'].tree}")
    print("ms per case: min / median / max of the rounds' means")
    print()
    print(f"{'clinics':>8} {'cand/case':>10} {'before ms/case':>26} {'after ms/case':>26} {'after/before':>13}"
          f" {'us/cand before':>15} {'after':>7}")
    for size, sides in results.items():
        before, after = sides["before"], sides["after"]
        print(
            f"{size:>8,} {after.candidates:>10.0f} {before.timing.spread():>26} {after.timing.spread():>26}"
            f" {after.timing.median / before.timing.median:>13.2f} {before.us_per_candidate:>15.2f}"
            f" {after.us_per_candidate:>7.2f}"
        )
    print()
    print(f"growth of the cost per candidate (<= {GOAL_GROWTH:g} means linear):")
    growths = []
    for small, big in zip(args.sizes, args.sizes[1:]):
        grow = {side: results[big][side].us_per_candidate / results[small][side].us_per_candidate
                for side in ("before", "after")}
        growths.append(grow["after"])
        print(f"  {big:,} vs {small:,} ({big / small:g}x clinics): before {grow['before']:.2f}, after {grow['after']:.2f}")
    goal_size = GOAL_SIZE if GOAL_SIZE in results else max(results)
    for side in ("before", "after"):
        print()
        print(f"plan of the candidate query at {goal_size:,} clinics, {side}:")
        for line in results[goal_size][side].plan:
            print(f"  {line}")
    print()
    if GOAL_SIZE in results:
        after = results[GOAL_SIZE]["after"].timing.median
        print(f"goal (after): under {GOAL_MS:g} ms per case at {GOAL_SIZE:,} clinics on {name}:"
              f" {'met' if after < GOAL_MS else 'NOT met'} ({after:.3f} ms)")
    worst = max(growths) if growths else 0.0
    print(f"goal (after): growth <= {GOAL_GROWTH:g} on {name}: {'met' if worst <= GOAL_GROWTH else 'NOT met'}"
          f" (worst {worst:.2f})")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases routed per catalogue size and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size (min/median/max printed)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL,
                        help=f"PostgreSQL to create {POSTGRES_DATABASE} on (default {POSTGRES_ADMIN_URL})")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that the bench runs: 20 cases, 10/100/500 clinics, one round")
    parser.add_argument("--before", metavar="DIR",
                        help="an older checkout to time side by side with this tree (full path only)")
    parser.add_argument("--serve-size", type=int, help=argparse.SUPPRESS)  # one side of --before
    parser.add_argument("--postgres-database", default=POSTGRES_DATABASE,
                        help=f"name of the database created (default {POSTGRES_DATABASE};"
                             " --before appends _before and _after)")
    args = parser.parse_args(argv)
    args.sizes = SIZES
    if args.smoke:
        vars(args).update(SMOKE)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.serve_size is not None:
        return serve(args)
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    if args.before:
        for kind in kinds:
            try:
                side_results = {size: side_by_side(kind, size, args) for size in args.sizes}
            except Exception as exc:  # noqa: BLE001 - report and exit 1, as documented
                print(f"measurement failed on {kind}: {exc!r}", file=sys.stderr)
                return 1
            report_side_by_side(kind, side_results, args)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="medtour-routing-bench-"))
    try:
        for kind in kinds:
            try:
                results = {size: measure(kind, size, args, workdir) for size in args.sizes}
            except Exception as exc:  # noqa: BLE001 - report and exit 1, as documented
                print(f"measurement failed on {kind}: {exc!r}", file=sys.stderr)
                return 1
            report(kind, results, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
