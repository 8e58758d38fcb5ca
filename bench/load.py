"""Load benchmark: many patients sending the request form at once, nothing lost.

`python bench/load.py` starts, all on 127.0.0.1 and all its own: a Redis server, an S3
endpoint (moto), a fresh database on the system PostgreSQL, the app under gunicorn
(4 sync workers, as in production) and RQ workers for the routing queue. Then:

* bare: every simulated client GETs `/healthz` (the app's cheapest route: Flask and one
  `SELECT 1`) as fast as it is answered, for a few seconds: the server's ceiling with
  the same concurrency on the same gunicorn.
* load: `--patients` simulated patients (default 200), each on its own connection
  (kept alive where the server allows), for `--seconds` (default 60) do what a browser
  does: GET `/requests/new` with an empty cookie jar (a new visitor), read the `csrf_token` and
  `submission_token` hidden fields, and POST the form (multipart) with 1-3 small files
  (distinct PDFs and PNGs). A submission counts as accepted when the POST is answered
  303 to a status link `/s/<token>`; anything else, a timeout included, is an error.
* drain: wait (at most `--route-wait` seconds) until the workers have routed every case.
* check, from the database and the bucket, every accepted submission: its case exists
  (found by the hash of the token its redirect carried), has exactly the files sent
  (name, size, SHA-256), each object is in S3 with that size and MD5 (the ETag of a
  single put), and it is routed (its `route_case` job done, its status past
  "submitted"). A submission failing any of these is lost.
* against the bare app (`--rounds`, default 3; 0 skips): bench/bare_app.py, a bare
  Flask app doing the essential work of a submission (parse the multipart body, put the
  files to the same S3 endpoint, insert one row), under the same gunicorn settings,
  loaded by the same patients for `--seconds`. Each round loads every configuration
  once, each after the one before it drained its routing, in an order rotating by one per
  round (the first round's app load is the load above). It prints, min / median / max of
  the rounds, submissions/s of each and the app's ratio to the bare app (goal >= 0.5x),
  and the CPU per accepted submission of the web tier (the gunicorn master with its
  workers, from /proc, during the load) and of the routing workers (with their reaped
  work horses, from the load's start until its routing drained).
* before (`--before DIR`, an older checkout, e.g. `git clone -q . /tmp/before &&
  git -C /tmp/before checkout -q <commit>`): a third configuration in those rounds, the
  app of DIR as it ran then, with this script's Python: gunicorn with the same settings
  and cwd=DIR (its `wsgi:app`, templates and migrations), on a database of its own
  migrated and loaded by DIR's own `flask db upgrade` and `flask catalog load`, db 1 of
  the same Redis server, the prefix `bench-before` of the same bucket, and as many RQ
  workers of its own, `flask worker --queue routing` run in DIR. The rounds then rotate
  after (this tree), before, bare app, and it prints the ratios before/bare and
  after/before as well. The before tree's submissions are counted (accepted, errors),
  not checked: the verdict is this tree's.

* workers (`--worker-rounds`, default 2; 0 skips): the worker CPU per routed
  submission of the routing workers as configured (routing is a light queue: its jobs run
  in the worker's process) against RQ's forking `Worker` as before (`flask worker
  --fork-all`: a work horse per job), each alone on the routing queue for a load of
  `--worker-seconds` (default 15), alternating; CPU of each worker process with its
  reaped horses and its scheduler, from listening until routing drained.

It prints the counts, POST latency percentiles, throughput, and throughput as a ratio
to the bare endpoint. Exit status 0 only when nothing was lost and nothing failed.

Rate limits are turned off in the app (RATELIMIT_ENABLED=0): all simulated patients
share one loopback address, which a per-address limit would rightly refuse. The
workers listen to the routing queue only: paperwork (PDFs) and emails are not checked
here, and on this machine's two cores rendering them would take the CPU the web
server is measured with; those jobs stay queued and go with the private Redis.

`--smoke` runs 5 patients for 3 seconds on 2 web and 1 RQ worker, in about half a
minute: it checks that the bench still runs (tests/bench/test_smoke.py), its figures
mean nothing, but its verdict (nothing lost, nothing failed) still holds.

Ctrl-C or SIGTERM stop everything: the servers run in their own sessions, so only this
process gets the signal, and every child, the database and the temporary folder are
removed on the way out.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402
from botocore.client import BaseClient  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench._processes import process_tree_cpu, start_redis  # noqa: E402
from bench.upload import (  # noqa: E402
    BUCKET,
    HOST,
    PREFIX,
    BenchError,
    app_env,
    flask_cli,
    free_port,
    interrupt,
    port_open,
    s3_client,
    show_log,
    start_gunicorn,
    start_s3,
    stop,
    wait_for,
)
from service.cases.status import CaseStatus  # noqa: E402
from service.cases.tokens import hash_token  # noqa: E402
from service.models import Attachment, Case, OutboxMessage  # noqa: E402
from tests.fixtures import files as sample_files  # noqa: E402
from workers import outbox  # noqa: E402
from workers.jobs import JOBS, route_case  # noqa: E402
from workers.queues import ROUTING  # noqa: E402

# Where to create (and drop) the bench's own database; trust auth on loopback.
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LATENCY_PERCENTILES = (50, 95, 99)
STATUS_PATH = re.compile(r"/s/([A-Za-z0-9_-]+)$")
HIDDEN_FIELDS = ("csrf_token", "submission_token")
# The outbox name of the routing job, as the workers know it.
ROUTE_JOB = next(name for name, spec in JOBS.items() if spec.func is route_case)
LANGUAGES = ("en", "de", "ru", "ar", "tr")
COUNTRIES = ("DE", "GB", "KZ", "AE", "NL")
SMOKE = {"patients": 5, "seconds": 3.0, "bare_seconds": 1.0, "route_wait": 30.0, "web_workers": 2, "rq_workers": 1,
         "rounds": 1, "worker_rounds": 1, "worker_seconds": 2.0}


# --- what was sent, what was stored, and the verdict ---------------------------


@dataclass(frozen=True)
class SentFile:
    name: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data).hexdigest()


@dataclass(frozen=True)
class StoredFile:
    filename: str
    size: int
    sha256: str
    storage_key: str


@dataclass(frozen=True)
class StoredCase:
    reference: str
    status: str
    route_job_done: bool
    files: tuple[StoredFile, ...]


@dataclass(frozen=True)
class StoredObject:
    """What the bucket lists for one key: its size and the hex MD5 of a single put."""

    size: int
    md5: str


@dataclass
class Attempt:
    """One patient's visit: the form fetched, then posted (or not)."""

    files: list[SentFile]
    token: str | None = None
    error: str | None = None
    form_seconds: float | None = None
    post_seconds: float | None = None


def case_problem(
    sent: Sequence[SentFile], stored: StoredCase | None, objects: Mapping[str, StoredObject]
) -> str | None:
    """Why an accepted submission counts as lost, or None when it is all there."""
    if stored is None:
        return "no case with the token of the redirect"
    want = Counter((f.name, f.size, f.sha256) for f in sent)
    got = Counter((f.filename, f.size, f.sha256) for f in stored.files)
    if want != got:
        return f"{stored.reference}: files differ (sent {sorted(want)}, recorded {sorted(got)})"
    by_hash = {f.sha256: f for f in sent}
    for file in stored.files:
        obj = objects.get(file.storage_key)
        if obj is None:
            return f"{stored.reference}: object {file.storage_key} is not in the bucket"
        if obj.size != file.size or obj.md5 != by_hash[file.sha256].md5:
            return f"{stored.reference}: object {file.storage_key} differs from {file.filename!r}"
    if not stored.route_job_done or stored.status == CaseStatus.SUBMITTED:
        return f"{stored.reference}: not routed (status {stored.status!r})"
    return None


def percentiles(values: Iterable[float], points: Sequence[int] = LATENCY_PERCENTILES) -> dict[int, float]:
    """Linear-interpolated percentiles (as numpy's default); empty input gives NaN."""
    ordered = sorted(values)
    if not ordered:
        return {p: float("nan") for p in points}
    result = {}
    for p in points:
        rank = (len(ordered) - 1) * p / 100
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        result[p] = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return result


@dataclass
class Report:
    sent: int
    accepted: int
    errors: Counter[str]
    lost: dict[str, str]
    post_latency: dict[int, float]
    form_latency: dict[int, float]
    seconds: float
    bare_rate: float
    bare_latency: dict[int, float]
    route_wait: float
    cases_in_db: int
    comparison: Comparison | None = None
    workers: list[WorkerPhase] | None = None

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def submission_rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.accepted > 0 and self.error_count == 0 and not self.lost


# --- services --------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(admin_url: str, suffix: str = "") -> Iterator[str]:
    """A database of its own on the system PostgreSQL, dropped on the way out (with the
    connections the app still holds, should a child outlive its stop)."""
    name = f"medtour_bench_{os.getpid()}{suffix}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise BenchError(f"cannot create a database on {admin_url}: {exc}") from exc
    server = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_workers(
    env: dict[str, str], workdir: Path, count: int, options: Sequence[str] = (), log_name: str = "worker",
    cwd: Path = REPO,
) -> list[subprocess.Popen]:
    """`flask worker --queue routing` of the tree at `cwd` (an older checkout's, too: its
    CLI had `--queue` already)."""
    procs = []
    for number in range(1, count + 1):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--queue", ROUTING, *options],
            cwd=cwd,
            env=env,
            stdout=(workdir / f"{log_name}-{number}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ))
    return procs


def treatment_slugs() -> list[str]:
    catalog = json.loads((REPO / "data" / "catalog.json").read_text(encoding="utf-8"))
    return [t["slug"] for t in catalog["treatments"]]


# --- the simulated patients --------------------------------------------------------


def hidden_values(html: str) -> dict[str, str]:
    """The value of each hidden field the form needs back, in whichever attribute order."""
    values = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        name = re.search(r'\bname="([^"]*)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if name and value and name.group(1) in HIDDEN_FIELDS:
            values[name.group(1)] = value.group(1)
    return values


def make_files(rng: random.Random, serial: int) -> list[SentFile]:
    """1-3 distinct small files (no two submissions share a byte string)."""
    files = []
    for index in range(1, rng.randint(1, 3) + 1):
        if rng.random() < 0.5:
            data = sample_files.pdf(f"Lab result {serial}-{index}")
            files.append(SentFile(f"lab-{serial}-{index}.pdf", "application/pdf", data))
        else:
            data = sample_files.image("PNG", size=(16 + serial % 97, 16 + index))
            data += f"serial {serial}-{index}".encode()  # trailing bytes: still a PNG, and unique
            files.append(SentFile(f"scan-{serial}-{index}.png", "image/png", data))
    return files


def form_fields(rng: random.Random, serial: int, treatments: Sequence[str], hidden: Mapping[str, str]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in (
        *hidden.items(),
        ("full_name", f"Load Patient {serial}"),
        ("email", f"patient{serial}@example.org"),
        ("country", rng.choice(COUNTRIES)),
        ("language", rng.choice(LANGUAGES)),
        ("treatment", rng.choice(treatments)),
        ("description", f"Load test request {serial}: recent scans and lab results attached for review."),
        ("consent", "y"),
    ):
        form.add_field(name, value)
    return form


async def visit(session: aiohttp.ClientSession, attempt: Attempt, form_data) -> None:
    """GET the form, POST it back; fills in `attempt`. Any failure is its error."""
    started = time.perf_counter()
    async with session.get("/requests/new") as response:
        html = await response.text()
        if response.status != 200:
            attempt.error = f"GET /requests/new answered {response.status}"
            return
    attempt.form_seconds = time.perf_counter() - started
    hidden = hidden_values(html)
    if set(hidden) != set(HIDDEN_FIELDS):
        attempt.error = f"form without {sorted(set(HIDDEN_FIELDS) - set(hidden))}"
        return
    form = form_data(hidden)
    for file in attempt.files:
        form.add_field("files", file.data, filename=file.name, content_type=file.content_type)
    started = time.perf_counter()
    async with session.post("/requests/new", data=form, allow_redirects=False) as response:
        body = await response.read()
        location = response.headers.get("Location", "")
    attempt.post_seconds = time.perf_counter() - started
    match = STATUS_PATH.search(location.split("?", 1)[0])
    if response.status != 303 or match is None:
        snippet = re.sub(r"\s+", " ", body.decode(errors="replace"))[:120]
        attempt.error = f"POST answered {response.status} {location or snippet!r}"
        return
    attempt.token = match.group(1)


async def patient(
    base: str, deadline: float, timeout: aiohttp.ClientTimeout, rng: random.Random, serials: Iterator[int],
    treatments: Sequence[str], attempts: list[Attempt],
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # unsafe: accept cookies from an IP address
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(base, cookie_jar=jar, connector=connector, timeout=timeout) as session:
        while time.monotonic() < deadline:
            serial = next(serials)
            jar.clear()
            attempt = Attempt(files=make_files(rng, serial))
            attempts.append(attempt)
            try:
                await visit(session, attempt, lambda hidden: form_fields(rng, serial, treatments, hidden))
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                attempt.error = f"{type(exc).__name__}: {exc}"[:160]


async def bare_client(
    base: str, deadline: float, timeout: aiohttp.ClientTimeout, latencies: list[float], errors: Counter[str]
) -> None:
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=1), timeout=timeout) as session:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                async with session.get("/healthz") as response:
                    await response.read()
                    if response.status != 200:
                        errors[f"GET /healthz answered {response.status}"] += 1
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - started)


async def run_bare(
    base: str, clients: int, seconds: float, timeout: float
) -> tuple[float, dict[int, float], Counter[str]]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    started = time.monotonic()
    deadline = started + seconds
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    await asyncio.gather(*(bare_client(base, deadline, client_timeout, latencies, errors) for _ in range(clients)))
    elapsed = time.monotonic() - started
    return len(latencies) / elapsed, percentiles(latencies), errors


async def run_load(
    base: str, patients: int, seconds: float, timeout: float, seed: int, treatments: Sequence[str]
) -> tuple[list[Attempt], float]:
    """Every patient starts visits until `seconds` have passed; the time returned runs
    until the last visit under way then has been answered."""
    attempts: list[Attempt] = []
    serials = iter(range(1, 10**9))
    started = time.monotonic()
    deadline = started + seconds
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    await asyncio.gather(*(
        patient(base, deadline, client_timeout, random.Random(seed * 100_003 + n), serials, treatments, attempts)
        for n in range(patients)
    ))
    return attempts, time.monotonic() - started


# --- after the load: drain and check ------------------------------------------------


def wait_until_routed(engine: Engine, limit: float) -> float:
    """Seconds until no case waits for routing (or `limit` passed)."""
    started = time.monotonic()
    query = select(Case.id).where(Case.status == CaseStatus.SUBMITTED).limit(1)
    while time.monotonic() - started < limit:
        with Session(engine) as session:
            if session.scalar(query) is None:
                break
        time.sleep(1)
    return time.monotonic() - started


def chunks(items: Sequence[str], size: int = 1000) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def stored_cases(engine: Engine, tokens: Sequence[str]) -> dict[str, StoredCase]:
    """token -> what the database holds for its case."""
    by_hash = {hash_token(token): token for token in tokens}
    result: dict[str, StoredCase] = {}
    with Session(engine) as session:
        for hashes in chunks(list(by_hash)):
            cases = session.execute(
                select(Case.id, Case.token_hash, Case.reference, Case.status).where(Case.token_hash.in_(hashes))
            ).all()
            ids = [c.id for c in cases]
            files: dict[int, list[StoredFile]] = {i: [] for i in ids}
            for a in session.execute(
                select(Attachment.case_id, Attachment.filename, Attachment.size, Attachment.sha256,
                       Attachment.storage_key).where(Attachment.case_id.in_(ids))
            ):
                files[a.case_id].append(StoredFile(a.filename, a.size, a.sha256, a.storage_key))
            routed = set(session.scalars(
                select(OutboxMessage.case_id).where(
                    OutboxMessage.case_id.in_(ids), OutboxMessage.job == ROUTE_JOB,
                    OutboxMessage.status == outbox.DONE,
                )
            ))
            for c in cases:
                result[by_hash[c.token_hash]] = StoredCase(c.reference, c.status, c.id in routed, tuple(files[c.id]))
    return result


def bucket_objects(client: BaseClient) -> dict[str, StoredObject]:
    """Storage key (the app's, without the URL's prefix) -> size and MD5."""
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/"):
        for obj in page.get("Contents", []):
            objects[obj["Key"].removeprefix(f"{PREFIX}/")] = StoredObject(obj["Size"], obj["ETag"].strip('"'))
    return objects


def count_cases(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count(Case.id))) or 0


# --- side by side: the app, the before tree (--before), the bare app (bench/bare_app.py)
# The same patients, payloads and gunicorn settings against each configuration in turn:
# this tree's app, an older checkout's app on its own database, Redis db and S3 prefix
# (with --before), and a bare Flask app doing the essential work of a submission (parse
# the multipart body, put the files to the same S3 endpoint, insert one row). Each round
# loads every configuration once, each after the one before it drained its routing; the
# order rotates by one per round, so none always goes first. The first round's app load
# is the checked load above. CPU is read from /proc: the web tier is the gunicorn master
# with its workers, the routing workers each process with its reaped work horses.

T = TypeVar("T")
APP, BEFORE, BARE = "app", "before", "bare app"
AFTER = "after"  # this tree's app, so called when an older one runs beside it
# Where the before tree keeps its queues and files: beside this tree's, apart from them.
BEFORE_REDIS_DB = 1
BEFORE_PREFIX = f"{PREFIX}-before"


@dataclass
class Tier:
    """One configuration of the comparison rounds: its gunicorn and the routing workers
    that go with it (none for the bare app, which routes nothing)."""

    label: str
    base: str
    web: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    engine: Engine | None = None  # where its cases wait for routing; None: nothing to wait for

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the web tier and of the routing workers."""
        return process_tree_cpu(self.web.pid), sum(process_tree_cpu(proc.pid) for proc in self.workers)


@dataclass(frozen=True)
class Figures:
    """One load of one configuration: what was accepted, and the CPU it took (the web
    tier's during the load, the routing workers' from its start until routing drained)."""

    accepted: int
    errors: int
    seconds: float
    web_cpu: float = 0.0
    worker_cpu: float = 0.0
    route_wait: float = 0.0

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def web_ms(self) -> float:
        return self.web_cpu * 1000 / self.accepted if self.accepted else float("nan")

    @property
    def worker_ms(self) -> float:
        return self.worker_cpu * 1000 / self.accepted if self.accepted else float("nan")


def measured_load(
    tier: Tier, args: argparse.Namespace, seed: int, treatments: Sequence[str]
) -> tuple[list[Attempt], Figures]:
    """One load of `--seconds` against `tier`, then (when it routes) until its routing drained."""
    web_start, workers_start = tier.cpu()
    attempts, seconds = asyncio.run(run_load(tier.base, args.patients, args.seconds, args.timeout, seed, treatments))
    web_end, _ = tier.cpu()
    route_wait = wait_until_routed(tier.engine, args.route_wait) if tier.engine is not None else 0.0
    _, workers_end = tier.cpu()
    if route_wait >= args.route_wait:
        print(f"  {tier.label}: routing not drained within --route-wait {args.route_wait:g} s", flush=True)
    figures = Figures(
        accepted=sum(a.token is not None for a in attempts),
        errors=sum(a.error is not None for a in attempts),
        seconds=seconds,
        web_cpu=web_end - web_start,
        worker_cpu=workers_end - workers_start,
        route_wait=route_wait,
    )
    return attempts, figures


def round_order(tiers: Sequence[T], number: int) -> list[T]:
    """The tiers of round `number` (from 0), rotated by one per round: none always first."""
    shift = number % len(tiers)
    return [*tiers[shift:], *tiers[:shift]]


@dataclass
class Comparison:
    labels: list[str]  # the configurations, the app first and the bare app last
    rounds: list[dict[str, Figures]]
    bare_rows: int

    def values(self, label: str, figure: str) -> list[float]:
        return [getattr(figures[label], figure) for figures in self.rounds]

    def ratios(self, label: str, to: str) -> list[float]:
        return [r[label].rate / r[to].rate if r[to].rate else 0.0 for r in self.rounds]

    @property
    def errors(self) -> dict[str, int]:
        return {label: sum(self.values(label, "errors")) for label in self.labels
                if sum(self.values(label, "errors"))}


def start_bare_app(env: dict[str, str], workdir: Path, *, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    """bench/bare_app.py under gunicorn with the app's settings (bench/upload.py's start_gunicorn)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
         "--timeout", "300", "--bind", f"{HOST}:{port}", "bench.bare_app:app"],
        cwd=REPO, env=env, stdout=(workdir / "bare-gunicorn.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    wait_for(lambda: port_open(port), "gunicorn (bare app)", proc)
    return proc, base


def bare_rows(database_url: str) -> int:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        row = conn.execute("SELECT count(*) FROM bare_submissions").fetchone()
    return int(row[0]) if row else 0


def compare(
    args: argparse.Namespace, env: dict[str, str], workdir: Path, cleanup: contextlib.ExitStack, app: Tier,
    first: Figures, database_url: str, before: Tier | None = None,
) -> Comparison:
    proc, bare_base = start_bare_app(env, workdir, workers=args.web_workers, threads=args.threads)
    cleanup.callback(stop, proc, "gunicorn (bare app)")
    tiers = [app, *([before] if before else []), Tier(BARE, bare_base, proc)]
    treatments = treatment_slugs()
    rounds: list[dict[str, Figures]] = []
    for number in range(args.rounds):
        figures: dict[str, Figures] = {}
        order = round_order(tiers, number)
        for tier in order:
            if number == 0 and tier is app:
                figures[tier.label] = first
            else:
                _, figures[tier.label] = measured_load(tier, args, args.seed + number, treatments)
        rounds.append(figures)
        print(f"round {number + 1}: " + ", ".join(f"{t.label} {figures[t.label].rate:.1f}/s" for t in order),
              flush=True)
    return Comparison([tier.label for tier in tiers], rounds, bare_rows(database_url))


def print_comparison(comparison: Comparison) -> None:
    def spread(values: list[float], unit: str = "", digits: int = 2) -> str:
        return (f"{min(values):.{digits}f}{unit} / {statistics.median(values):.{digits}f}{unit} / "
                f"{max(values):.{digits}f}{unit}")

    app, *others = comparison.labels
    print(f"against the bare app ({len(comparison.rounds)} round(s), min / median / max):")
    for label in comparison.labels:
        accepted, errors = sum(comparison.values(label, "accepted")), sum(comparison.values(label, "errors"))
        note = f" ({accepted} accepted, {errors} errors)"
        if label == BARE:
            note = f" ({comparison.bare_rows} rows for {accepted} accepted, {errors} errors)"
        print(f"  {label:<12} {spread(comparison.values(label, 'rate'))} submissions/s{note}")
    print(f"ratio to bare app  {spread(comparison.ratios(app, BARE), 'x')} submissions (goal >= 0.5x)"
          + (f"  [{app}]" if BEFORE in others else ""))
    if BEFORE in others:
        print(f"ratio before/bare  {spread(comparison.ratios(BEFORE, BARE), 'x')} submissions")
        print(f"ratio after/before {spread(comparison.ratios(app, BEFORE), 'x')} submissions")
    print("CPU per accepted submission, ms (min / median / max; web: the gunicorn tree during the load, "
          "workers: the routing workers until routing drained):")
    print(f"  {'':<12} {'web':>20}   {'workers':>20}   {'web + workers':>20}")
    for label in comparison.labels:
        web = comparison.values(label, "web_ms")
        if label == BARE:
            print(f"  {label:<12} {spread(web, digits=1):>20}   {'-':>20}   {spread(web, digits=1):>20}")
            continue
        workers = comparison.values(label, "worker_ms")
        total = [w + k for w, k in zip(web, workers)]
        print(f"  {label:<12} {spread(web, digits=1):>20}   {spread(workers, digits=1):>20}   "
              f"{spread(total, digits=1):>20}")
    if comparison.errors:
        print(f"  errors during the comparison: {comparison.errors}")
    slowest = {label: max(comparison.values(label, "route_wait")) for label in comparison.labels if label != BARE}
    print("routing drained within " + ", ".join(f"{label} {wait:.1f} s" for label, wait in slowest.items())
          + " of a round's end (at most)")


# --- worker CPU per routed submission ----------------------------------------------
# Short loads of their own, after the rest, each with only one configuration's RQ
# workers on the routing queue (as many as --rq-workers): the workers' CPU (each process
# with its children: the reaped work horses and RQ's scheduler) from when they listen
# until routing drained, divided by the cases they routed. Configurations alternate.

# (label, `flask worker` options beside `--queue routing`)
WORKER_CONFIGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("in-process (routing is light)", ()),
    ("forking Worker (as before)", ("--fork-all",)),
)


@dataclass
class WorkerPhase:
    label: str
    cpu_seconds: float
    routed: int
    errors: int

    @property
    def cpu_per_case(self) -> float:
        return self.cpu_seconds / self.routed if self.routed else float("nan")


def routed_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.job == ROUTE_JOB, OutboxMessage.status == outbox.DONE)) or 0


def wait_until_listening(redis_url: str, procs: Sequence[subprocess.Popen], before: set[str]) -> None:
    """Until every new worker registered in Redis (its start-up and warm-up done)."""
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(redis_url)
    pids = {proc.pid for proc in procs}
    wait_for(lambda: pids <= {w.pid for w in Worker.all(connection=connection) if w.name not in before},
             "RQ workers", procs[0])
    connection.close()


def worker_phase(
    label: str, options: Sequence[str], args: argparse.Namespace, env: dict[str, str], workdir: Path, base: str,
    engine: Engine, seed: int,
) -> WorkerPhase:
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(env["REDIS_URL"])
    before = {w.name for w in Worker.all(connection=connection)}
    connection.close()
    procs = start_workers(env, workdir, args.rq_workers, options, log_name=f"worker-seed{seed}")
    try:
        wait_until_listening(env["REDIS_URL"], procs, before)
        start_cpu = sum(process_tree_cpu(proc.pid) for proc in procs)
        start_routed = routed_count(engine)
        attempts, _ = asyncio.run(run_load(base, args.patients, args.worker_seconds, args.timeout, seed,
                                           treatment_slugs()))
        wait_until_routed(engine, args.route_wait)
        cpu = sum(process_tree_cpu(proc.pid) for proc in procs) - start_cpu
        routed = routed_count(engine) - start_routed
    finally:
        for number, proc in enumerate(procs, start=1):
            stop(proc, f"RQ worker {number} ({label})")
    return WorkerPhase(label, cpu, routed, sum(a.error is not None for a in attempts))


def compare_worker_configs(
    args: argparse.Namespace, env: dict[str, str], workdir: Path, base: str, engine: Engine,
) -> list[WorkerPhase]:
    phases = []
    for number in range(args.worker_rounds):
        configs = WORKER_CONFIGS if number % 2 == 0 else WORKER_CONFIGS[::-1]
        for label, options in configs:
            phase = worker_phase(label, options, args, env, workdir, base, engine, seed=args.seed + 1000 + number)
            phases.append(phase)
            print(f"workers, {label}: {phase.cpu_per_case * 1000:.1f} ms CPU per routed submission "
                  f"({phase.routed} routed)", flush=True)
    return phases


def print_worker_comparison(phases: Sequence[WorkerPhase]) -> None:
    def spread(values: list[float]) -> str:
        return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"

    print(f"RQ worker CPU per routed submission, ms (min / median / max of {len(phases) // 2} round(s)):")
    medians = {}
    for label, _ in WORKER_CONFIGS:
        values = [p.cpu_per_case * 1000 for p in phases if p.label == label]
        medians[label] = statistics.median(values)
        routed = sum(p.routed for p in phases if p.label == label)
        print(f"  {label:<32} {spread(values)}  ({routed} routed)")
    (new, _), (before, _) = WORKER_CONFIGS
    print(f"worker CPU ratio     {medians[new] / medians[before]:.2f}x of the forking Worker (goal <= 0.33x)")
    errors = sum(p.errors for p in phases)
    if errors:
        print(f"  errors during the worker comparison: {errors}")


# --- report ----------------------------------------------------------------------------


def ms(values: Mapping[int, float]) -> str:
    return "  ".join(f"p{p} {v * 1000:.0f} ms" for p, v in values.items())


def print_report(report: Report, args: argparse.Namespace) -> None:
    print()
    print(f"submissions sent     {report.sent}")
    print(f"accepted (303)       {report.accepted}")
    print(f"errors               {report.error_count}")
    for kind, count in report.errors.most_common(10):
        print(f"    {count:>6} x {kind}")
    print(f"lost                 {len(report.lost)}   (accepted, but missing, wrong files or not routed)")
    for token, problem in list(report.lost.items())[:10]:
        print(f"    {token[:8]}...: {problem}")
    print(f"cases in database    {report.cases_in_db}   (routing drained in {report.route_wait:.1f} s)")
    print(f"POST latency         {ms(report.post_latency)}")
    print(f"form GET latency     {ms(report.form_latency)}")
    print(f"throughput           {report.submission_rate:.1f} submissions/s "
          f"({2 * report.submission_rate:.1f} HTTP requests/s with the form GETs) over {report.seconds:.1f} s")
    print(f"bare GET /healthz    {report.bare_rate:.1f} requests/s with {args.patients} clients; {ms(report.bare_latency)}")
    if report.bare_rate:
        print(f"ratio to bare        {report.submission_rate / report.bare_rate:.3f}x submissions, "
              f"{2 * report.submission_rate / report.bare_rate:.3f}x HTTP requests")
    if report.comparison is not None:
        print_comparison(report.comparison)
    if report.workers:
        print_worker_comparison(report.workers)
    print()
    print("PASS: zero errors, zero lost" if report.ok else "FAIL: errors or lost cases (see above)")


# --- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200, help="concurrent simulated patients (default 200)")
    parser.add_argument("--seconds", type=float, default=60, help="length of the load (default 60)")
    parser.add_argument("--bare-seconds", type=float, default=10, help="length of the bare /healthz run (default 10)")
    parser.add_argument("--route-wait", type=float, default=120, help="at most this long for routing (default 120)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds a patient waits for one answer before it counts as an error (default 120)")
    # Sync workers, as the README's production command: each connection is closed after
    # its response. gthread workers with keep-alive reset some connections under this
    # overload (TcpExtTCPAbortOnClose: closed with the client's next request unread).
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker (default 1: sync workers; more: gthread)")
    parser.add_argument("--rq-workers", type=int, default=2, help="RQ workers on the routing queue (default 2)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the payloads (default 7)")
    parser.add_argument("--postgres", default=POSTGRES_ADMIN_URL,
                        help=f"PostgreSQL to create the bench's database on (default {POSTGRES_ADMIN_URL})")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the comparison with bench/bare_app.py (and --before), the order rotating "
                             "per round (default 3; 0: skip)")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="an older checkout of the app to load side by side in the comparison rounds, on its "
                             "own database, Redis db and S3 prefix, with its own routing workers")
    parser.add_argument("--worker-rounds", type=int, default=2,
                        help="rounds of the worker CPU comparison, in-process and forking alternating (default 2; 0: skip)")
    parser.add_argument("--worker-seconds", type=float, default=15,
                        help="length of each load of the worker CPU comparison (default 15)")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that the bench runs: 5 patients for 3 s, 2 web and 1 RQ worker "
                             "(overrides those options)")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)
    if min(args.patients, args.web_workers, args.threads, args.rq_workers) < 1 or min(args.seconds, args.timeout) <= 0:
        parser.error("counts must be at least 1, --seconds and --timeout positive")
    if args.before is not None:
        args.before = args.before.resolve()
        if not (args.before / "wsgi.py").is_file():
            parser.error(f"--before {args.before}: no wsgi.py there (an older checkout of the app)")
        if not args.rounds:
            parser.error("--before needs comparison rounds (--rounds at least 1)")
    return args


def start_before(
    args: argparse.Namespace, endpoint: str, redis_url: str, workdir: Path, cleanup: contextlib.ExitStack
) -> Tier:
    """The older checkout's app (--before) as it ran then: the same gunicorn settings with
    cwd there (its wsgi, templates and migrations), on a database of its own migrated and
    loaded by its own CLI, another db of the same Redis server, another prefix of the same
    bucket, and its own workers on its routing queue (its `flask worker --queue routing`:
    RQ's forking worker, the only kind it had)."""
    tree = args.before
    folder = workdir / "before"
    folder.mkdir()
    database_url = cleanup.enter_context(fresh_database(args.postgres, suffix="_before"))
    env = app_env(endpoint, folder, database_url=database_url,
                  redis_url=f"{redis_url.rsplit('/', 1)[0]}/{BEFORE_REDIS_DB}")
    env.update(LOG_LEVEL="WARNING", STORAGE_URL=f"s3://{BUCKET}/{BEFORE_PREFIX}", PYTHONPATH=str(tree))
    flask_cli(env, "db", "upgrade", cwd=tree)
    flask_cli(env, "catalog", "load", "data/catalog.json", cwd=tree)
    engine = create_engine(database_url)
    cleanup.callback(engine.dispose)
    workers = start_workers(env, folder, args.rq_workers, cwd=tree)
    for number, proc in enumerate(workers, start=1):
        cleanup.callback(stop, proc, f"RQ worker {number} (before)")
    try:
        gunicorn, base = start_gunicorn(env, folder, workers=args.web_workers, threads=args.threads, cwd=tree)
    except BenchError:
        show_log(folder / "gunicorn.log")
        raise
    cleanup.callback(stop, gunicorn, "gunicorn (before)")
    return Tier(BEFORE, base, gunicorn, workers, engine)


def run(args: argparse.Namespace, workdir: Path, cleanup: contextlib.ExitStack) -> Report:
    redis_proc, redis_url = start_redis(workdir)
    cleanup.callback(stop, redis_proc, "redis-server")
    s3_proc, endpoint = start_s3(workdir / "moto.log")
    cleanup.callback(stop, s3_proc, "moto server")
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    database_url = cleanup.enter_context(fresh_database(args.postgres))

    env = app_env(endpoint, workdir, database_url=database_url, redis_url=redis_url)
    # One loopback address for every simulated patient: a per-address limit would refuse them.
    env.update(LOG_LEVEL="WARNING")
    flask_cli(env, "db", "upgrade")
    flask_cli(env, "catalog", "load", "data/catalog.json")
    engine = create_engine(database_url)
    cleanup.callback(engine.dispose)

    # Stopped before the database is dropped (the callbacks run last in, first out).
    workers = start_workers(env, workdir, args.rq_workers)
    for number, proc in enumerate(workers, start=1):
        cleanup.callback(stop, proc, f"RQ worker {number}")
    gunicorn, base = start_gunicorn(env, workdir, workers=args.web_workers, threads=args.threads)
    cleanup.callback(stop, gunicorn, "gunicorn")
    app = Tier(AFTER if args.before else APP, base, gunicorn, workers, engine)
    before = start_before(args, endpoint, redis_url, workdir, cleanup) if args.before else None

    kind = "sync workers" if args.threads == 1 else f"gthread workers x {args.threads} threads"
    print(f"gunicorn {args.web_workers} {kind}, {args.rq_workers} RQ workers "
          f"(routing queue), PostgreSQL, Redis and S3 (moto) on {HOST}; rate limits off (RATELIMIT_ENABLED=0): "
          f"all {args.patients} simulated patients share one loopback address; a patient waits "
          f"{args.timeout:g} s for an answer", flush=True)
    if before is not None:
        print(f"before: {args.before} under the same gunicorn settings, {args.rq_workers} of its own RQ workers "
              f"(`flask worker --queue {ROUTING}`), its own database, Redis db {BEFORE_REDIS_DB} and S3 prefix "
              f"{BEFORE_PREFIX!r}; after: {REPO}", flush=True)
    bare_rate, bare_latency, bare_errors = asyncio.run(run_bare(base, args.patients, args.bare_seconds, args.timeout))
    if bare_errors:
        raise BenchError(f"the bare endpoint failed: {dict(bare_errors)}")
    print(f"bare: {bare_rate:.1f} GET /healthz per second; load: {args.patients} patients for {args.seconds:g} s",
          flush=True)
    attempts, first = measured_load(app, args, args.seed, treatment_slugs())
    accepted = [a for a in attempts if a.token is not None]
    print(f"load done: {len(attempts)} sent, {len(accepted)} accepted; routing drained in {first.route_wait:.1f} s",
          flush=True)

    cases = stored_cases(engine, [a.token for a in accepted])
    objects = bucket_objects(client)
    lost = {}
    for attempt in accepted:
        problem = case_problem(attempt.files, cases.get(attempt.token), objects)
        if problem:
            lost[attempt.token] = problem
    report = Report(
        sent=len(attempts),
        accepted=len(accepted),
        errors=Counter(a.error for a in attempts if a.error),
        lost=lost,
        post_latency=percentiles(a.post_seconds for a in accepted),
        form_latency=percentiles(a.form_seconds for a in attempts if a.form_seconds is not None),
        seconds=first.seconds,
        bare_rate=bare_rate,
        bare_latency=bare_latency,
        route_wait=first.route_wait,
        cases_in_db=count_cases(engine),
    )
    if args.rounds:
        report.comparison = compare(args, env, workdir, cleanup, app, first, database_url, before)
    if before is not None:  # idle from here on, but not beside the worker comparison
        for proc in (before.web, *before.workers):
            stop(proc, "before")
    if args.worker_rounds:
        for number, proc in enumerate(workers, start=1):
            stop(proc, f"RQ worker {number}")
        report.workers = compare_worker_configs(args, env, workdir, base, engine)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)
    with tempfile.TemporaryDirectory(prefix="medtour-load-") as tmp:
        workdir = Path(tmp)
        cleanup = contextlib.ExitStack()
        try:
            with cleanup:
                try:
                    report = run(args, workdir, cleanup)
                except Exception:
                    show_log(workdir / "gunicorn.log")
                    raise
                finally:
                    # A second Ctrl-C must not cut the clean-up short.
                    for signum in (signal.SIGINT, signal.SIGTERM):
                        signal.signal(signum, signal.SIG_IGN)
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted; everything started was stopped and removed", file=sys.stderr)
            return 130
    print_report(report, args)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
