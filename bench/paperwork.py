"""Dossier benchmark: the whole paperwork pipeline against WeasyPrint alone.

`python bench/paperwork.py` makes a case with N photo attachments (default 10 JPEGs
of 2000×1500 with photo-like detail, so they neither compress to nothing nor decode
for free), then in each round times:

* pipeline: `build_dossier_pdf` end to end: reading the attachments through the
  callable, checking their SHA-256, decoding and downscaling every image with Pillow
  (bounded to images.MAX_SIDE, JPEG q80), rendering the template, WeasyPrint, and the final bytes;
* weasyprint: WeasyPrint alone rendering the very HTML the pipeline produced (captured
  from the pipeline's own call to the renderer) with the same sandboxed fetcher and
  the same registered resources.

The pipeline does not hand images to WeasyPrint: its HTML has a fixed-size frame per
image, the images are decoded and downscaled in worker threads *while* WeasyPrint
lays out, and the JPEGs are painted into the frames afterwards (pypdf). So the
"weasyprint" side is the layout and PDF writing of the exact same document, and the
ratio pipeline/weasyprint is what our code adds in wall-clock time on top of that
unavoidable rendering; the goal is <= 1.3×. Wall-clock only tells half of it when
threads overlap, so the CPU time of each side (all threads, `time.process_time`) is
printed too. The two sides interleave, alternating which goes first, and the summary
takes medians, because the machine is noisy.

Peak RSS is the process's high-water mark (VmHWM from /proc, and ru_maxrss), after
all rounds, next to the RSS measured once the inputs were made and the libraries
imported: the growth is what rendering costs in memory.

Then the dossier as a background job (`--job-rounds`, default 5; 0 skips it): a
private Redis, an S3 endpoint (moto) and a SQLite file; a case with the same photos is
submitted and its files derived, and each round records one `render_dossier` job
(outbox row, relayed to Redis) and times it from enqueue to end as RQ stamps it (and
the CPU the worker spent on it, its horse's included, from /proc; the bench waits for it
blocked in Redis, not polling, so it takes no CPU from the worker), in a worker process started as in production: `flask worker --kind heavy` (a horse forked
per job from a parent warmed up once: S3 client, templates, one WeasyPrint render), and
`flask worker --queue paperwork --fork-all` (RQ's forking `Worker` as before: every horse
builds all that again). Each job round is followed by WeasyPrint alone rendering the
job's own HTML (captured from the same job run in this process) in this process, and
the ratio is taken per round; goal <= 1.3× for the heavy worker.

`--smoke` makes one round with 2 photos of 400×300, in seconds: it checks that the
bench still runs (tests/bench/test_smoke.py), its figures mean nothing.

Exit status: 0 when the measurement completed (goal met or not), 1 when it could not
be made (e.g. the captured HTML differs from a fresh preparation).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._pictures import photo_image  # noqa: E402
from bench._processes import start_redis  # noqa: E402

from service.files import images  # noqa: E402
from service.paperwork import documents, dossier_content  # noqa: E402
from service.paperwork.render import SandboxedFetcher, render_document  # noqa: E402

RATIO_GOAL = 1.3
SMOKE = {"rounds": 1, "images": 2, "size": "400x300", "job_rounds": 1}


# --- a case shaped like the ORM rows --------------------------------------------


@dataclass
class Treatment:
    name: str = "Total knee replacement"


@dataclass
class Clinic:
    name: str = "Klinikum Lübeck Orthopädie"
    city: str = "Lübeck"
    country: str = "DE"


@dataclass
class Attachment:
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str


@dataclass
class Case:
    reference: str = "MT-2026-000123"
    full_name: str = "Amina Petrova"
    email: str = "amina@example.org"
    phone: str | None = "+7 912 345-67-89"
    country: str = "KZ"
    date_of_birth: date | None = date(1979, 4, 2)
    language: str = "ru"
    description: str = ("Боль в колене после травмы в 2021 году; МРТ показало разрыв мениска и артроз "
                        "третьей степени. Pain on stairs, walking limited to 500 m. ") * 3
    travel_window: str | None = "March–May 2027"
    medications: str | None = "Ibuprofen 400 mg as needed"
    allergies: str | None = "none known"
    conditions: str | None = None
    treatment: Treatment = field(default_factory=Treatment)
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class Referral:
    clinic: Clinic = field(default_factory=Clinic)
    reasons: list[dict] = field(default_factory=lambda: [
        {"key": "treatment", "points": 40, "reason": "Offers the requested treatment"},
        {"key": "language", "points": 10, "reason": "Staff speak Russian"},
    ])


def photo(seed: int, width: int, height: int) -> bytes:
    """A JPEG with gradients, shapes and sensor-like noise: compresses like a photo."""
    out = io.BytesIO()
    photo_image(seed, width, height).save(out, format="JPEG", quality=88)
    return out.getvalue()


def make_case(count: int, width: int, height: int) -> tuple[Case, dict[str, bytes]]:
    case = Case()
    store: dict[str, bytes] = {}
    for n in range(1, count + 1):
        data = photo(n, width, height)
        key = f"cases/123/attachments/{n:04d}"
        store[key] = data
        case.attachments.append(Attachment(
            id=n, filename=f"IMG_{4000 + n}.jpg", content_type="image/jpeg", size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
        ))
    return case, store


# --- measuring -------------------------------------------------------------------


def rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def capture_html(content, read) -> tuple[str, dict]:
    """Run the pipeline once and keep the HTML and resources it handed to WeasyPrint."""
    seen: dict = {}
    original = documents.render_document

    def recording(html, fetcher=None):
        seen["html"] = html
        seen["resources"] = dict(fetcher._resources) if fetcher is not None else {}
        return original(html, fetcher)

    documents.render_document = recording
    try:
        documents.build_dossier_pdf(content, read)
    finally:
        documents.render_document = original
    return seen["html"], seen["resources"]


def _painted(pdf: bytes):
    """The image streams of the finished dossier (to report what was embedded)."""
    from pypdf import PdfReader

    seen = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        xobjects = page["/Resources"].get_object().get("/XObject") or {}
        for ref in xobjects.values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                seen[ref.idnum] = type("Img", (), {"data": obj._data})
    return list(seen.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--size", default="2000x1500", help="photo size, WIDTHxHEIGHT")
    parser.add_argument("--max-side", type=int, help="override images.MAX_SIDE (default %d)" % images.MAX_SIDE)
    parser.add_argument("--out", type=Path, help="also write the last dossier here")
    parser.add_argument("--job-rounds", type=int, default=5,
                        help="rounds of the dossier as a job in each worker configuration (default 5; 0: skip)")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that the bench runs: 1 round, 2 photos of 400x300 (overrides the sizes)")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)
    if args.max_side:
        images.MAX_SIDE = args.max_side
    width, height = (int(v) for v in args.size.lower().split("x"))

    case, store = make_case(args.images, width, height)
    read = lambda entry: store[entry.storage_key]  # noqa: E731
    content = dossier_content(case, Referral(), case.attachments, lambda a: f"https://files.test/{a.storage_key}")
    input_bytes = sum(len(v) for v in store.values())

    # Warm-up: imports, font files into the static cache, fontconfig, Pillow codecs.
    html, resources = capture_html(content, read)
    if html != documents.prepare_dossier(content, read).html:
        print("captured HTML differs from a fresh preparation", file=sys.stderr)
        return 1
    render_document(html, SandboxedFetcher(resources))
    baseline_rss = rss_kib("VmRSS")

    pipeline_times, weasy_times, pipeline_cpu, weasy_cpu = [], [], [], []
    result = None
    for round_no in range(args.rounds):
        def run_pipeline():
            nonlocal result
            cpu, start = time.process_time(), time.perf_counter()
            result = documents.build_dossier_pdf(content, read)
            pipeline_times.append(time.perf_counter() - start)
            pipeline_cpu.append(time.process_time() - cpu)

        def run_weasyprint():
            cpu, start = time.process_time(), time.perf_counter()
            render_document(html, SandboxedFetcher(resources))
            weasy_times.append(time.perf_counter() - start)
            weasy_cpu.append(time.process_time() - cpu)

        order = (run_pipeline, run_weasyprint) if round_no % 2 == 0 else (run_weasyprint, run_pipeline)
        for step in order:
            step()
        print(f"round {round_no + 1}: pipeline {pipeline_times[-1]:.3f} s, weasyprint {weasy_times[-1]:.3f} s, "
              f"ratio {pipeline_times[-1] / weasy_times[-1]:.2f}×")

    assert result is not None
    if args.out:
        args.out.write_bytes(result.data)
    pipeline = statistics.median(pipeline_times)
    weasy = statistics.median(weasy_times)
    ratio = statistics.median(p / w for p, w in zip(pipeline_times, weasy_times))
    peak_hwm = rss_kib("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    embedded = sum(len(image.data) for image in _painted(result.data))
    print()
    print(f"input: {args.images} JPEG photos {width}×{height}, {input_bytes / 1e6:.1f} MB; "
          f"images bounded to {images.MAX_SIDE} px, {images.RESAMPLE.name.lower()}, JPEG q{images.JPEG_QUALITY}; "
          f"embedded after downscaling: {embedded / 1e6:.1f} MB")
    print(f"dossier: {result.pages} pages, {len(result.data) / 1e6:.2f} MB")
    print(f"build_dossier_pdf median:       {pipeline:.3f} s  (min {min(pipeline_times):.3f})")
    print(f"WeasyPrint same HTML median:    {weasy:.3f} s  (min {min(weasy_times):.3f})")
    print(f"ratio (median of rounds):       {ratio:.2f}×  (goal <= {RATIO_GOAL}×: "
          f"{'met' if ratio <= RATIO_GOAL else 'NOT met'})")
    print(f"CPU time median (all threads):  pipeline {statistics.median(pipeline_cpu):.3f} s, "
          f"weasyprint {statistics.median(weasy_cpu):.3f} s "
          f"({statistics.median(pipeline_cpu) / statistics.median(weasy_cpu):.2f}×)")
    print(f"RSS after inputs and warm-up:   {baseline_rss / 1024:.1f} MiB")
    print(f"peak RSS (VmHWM):               {peak_hwm / 1024:.1f} MiB  (ru_maxrss {maxrss / 1024:.1f} MiB)")
    if args.job_rounds > 0:
        return measure_worker_jobs(args, [photo(n, width, height) for n in range(1, args.images + 1)])
    return 0


# --- the dossier as a job in a worker ------------------------------------------------

# (label, `flask` arguments): the worker configurations compared, each a process of its own.
WORKER_CONFIGS = (
    ("heavy worker (warmed, forks per job)", ("worker", "--kind", "heavy")),
    ("forking Worker as before (no warm-up)", ("worker", "--queue", "paperwork", "--fork-all")),
)
JOB_WAIT_SECONDS = 120


def _submitted_case(app, photos: list[bytes]) -> tuple[int, int]:
    """A case with the photos, routed, its files derived and its paperwork made by an
    in-process worker; returns (case id, the first referral's id)."""
    from rq import SimpleWorker
    from sqlalchemy import select

    from service.extensions import db
    from service.models import Case, Referral
    from tests.fixtures.forms import valid_request
    from workers import queues

    data = valid_request(files=[(io.BytesIO(p), f"IMG_{4000 + n}.jpg") for n, p in enumerate(photos, start=1)])
    response = app.test_client().post("/requests/new", data=data, content_type="multipart/form-data")
    if response.status_code != 303:
        raise RuntimeError(f"the request form answered {response.status_code}")
    with app.app_context():
        SimpleWorker(list(queues.ALL), connection=queues.redis_connection()).work(burst=True, logging_level="WARNING")
        case_id = db.session.scalar(select(Case.id).order_by(Case.id.desc()))
        referral_id = db.session.scalar(select(Referral.id).where(Referral.case_id == case_id).order_by(Referral.id))
    if referral_id is None:
        raise RuntimeError("the bench case was not referred to any clinic")
    return case_id, referral_id


def _job_html(app, case_id: int, referral_id: int) -> tuple[str, dict]:
    """The HTML and resources the dossier job hands to WeasyPrint (the job run here once)."""
    from workers import jobs

    seen: dict = {}
    original = documents.render_document

    def recording(html, fetcher=None):
        seen["html"], seen["resources"] = html, dict(fetcher._resources) if fetcher is not None else {}
        return original(html, fetcher)

    documents.render_document = recording
    try:
        with app.app_context():
            jobs.render_dossier(case_id, referral_id)
    finally:
        documents.render_document = original
    return seen["html"], seen["resources"]


def _start_worker(env: dict[str, str], workdir: Path, label: str, flask_args: tuple[str, ...], connection):
    """The worker process, once it listens (registered in Redis: its warm-up is done)."""
    from rq import Worker

    from bench.upload import wait_for

    known = {w.name for w in Worker.all(connection=connection)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *flask_args], cwd=REPO, env=env,
        stdout=(workdir / f"worker-{flask_args[-1]}.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(lambda: any(w.name not in known for w in Worker.all(connection=connection)), label, proc)
    return proc


def _timed_job(app, case_id: int, referral_id: int, connection, worker_pid: int) -> tuple[float, float]:
    """Record one dossier job (relayed at the commit) and wait for it: enqueue → end, as
    RQ stamps them, and the CPU the worker spent on it (its horse's included)."""
    from rq.job import Job as RQJob

    from bench._processes import process_tree_cpu

    from service import outbox as domain_outbox
    from service.outbox import Job, record
    from workers.outbox import job_id

    cpu = process_tree_cpu(worker_pid)
    with app.app_context():
        message = record(Job.RENDER_DOSSIER, case_id=case_id, referral_id=referral_id)
        domain_outbox.commit()
        name = job_id(message.id)
    # Blocks in Redis (XREAD on the job's results) instead of polling: a loop fetching the
    # job every few milliseconds would take CPU from the worker it measures, on 2 cores.
    result = RQJob.fetch(name, connection=connection).latest_result(timeout=JOB_WAIT_SECONDS)
    if result is None:
        raise RuntimeError(f"the dossier job did not finish within {JOB_WAIT_SECONDS} s")
    if result.type != result.Type.SUCCESSFUL:
        raise RuntimeError(f"the dossier job failed: {(result.exc_string or '')[-500:]}")
    time.sleep(0.05)  # the horse reaped, the worker back to listening
    job = RQJob.fetch(name, connection=connection)
    return (job.ended_at - job.enqueued_at).total_seconds(), process_tree_cpu(worker_pid) - cpu


def measure_worker_jobs(args: argparse.Namespace, photos: list[bytes]) -> int:
    """The dossier job in each worker configuration against WeasyPrint alone, per round."""
    import contextlib
    import os
    import tempfile

    from redis import Redis

    from bench.upload import BUCKET, app_env, flask_cli, s3_client, start_s3, stop

    with tempfile.TemporaryDirectory(prefix="medtour-paperwork-") as tmp, contextlib.ExitStack() as cleanup:
        workdir = Path(tmp)
        redis_proc, redis_url = start_redis(workdir)
        cleanup.callback(stop, redis_proc, "redis-server")
        s3_proc, endpoint = start_s3(workdir / "moto.log")
        cleanup.callback(stop, s3_proc, "moto server")
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        env = app_env(endpoint, workdir, redis_url=redis_url)
        env.update(LOG_LEVEL="WARNING", MAIL_URL="")
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "catalog", "load", "data/catalog.json")
        os.environ.update(env)
        from wsgi import create_app

        app = create_app({"WTF_CSRF_ENABLED": False})
        connection = Redis.from_url(redis_url)
        case_id, referral_id = _submitted_case(app, photos)
        html, resources = _job_html(app, case_id, referral_id)
        render_document(html, SandboxedFetcher(resources))

        print()
        print(f"dossier job: {len(photos)} photos, SQLite, Redis and S3 (moto) on loopback; "
              f"enqueue → end as RQ stamps it, against WeasyPrint alone on the job's HTML, per round")
        results: dict[str, tuple[list[float], list[float]]] = {}
        for label, flask_args in WORKER_CONFIGS:
            worker = _start_worker(env, workdir, label, flask_args, connection)
            job_times, weasy_times, job_cpu, weasy_cpu = [], [], [], []
            try:
                for _ in range(args.job_rounds):
                    seconds, cpu = _timed_job(app, case_id, referral_id, connection, worker.pid)
                    job_times.append(seconds)
                    job_cpu.append(cpu)
                    cpu, start = time.process_time(), time.perf_counter()
                    render_document(html, SandboxedFetcher(resources))
                    weasy_times.append(time.perf_counter() - start)
                    weasy_cpu.append(time.process_time() - cpu)
            finally:
                stop(worker, label)
            results[label] = ([j / w for j, w in zip(job_times, weasy_times)],
                              [j / w for j, w in zip(job_cpu, weasy_cpu)])
            print(f"  {label}")
            print(f"    time  job {_spread(job_times)} s; WeasyPrint {_spread(weasy_times)} s; "
                  f"ratio {_spread(results[label][0], '.2f')}×")
            print(f"    CPU   job {_spread(job_cpu)} s; WeasyPrint {_spread(weasy_cpu)} s; "
                  f"ratio {_spread(results[label][1], '.2f')}×")
        (label, _), (before_label, _) = WORKER_CONFIGS
        heavy, before = (statistics.median(results[name][0]) for name in (label, before_label))
        heavy_cpu, before_cpu = (statistics.median(results[name][1]) for name in (label, before_label))
        print(f"dossier job / WeasyPrint alone: {heavy:.2f}× heavy worker (goal <= {RATIO_GOAL}×: "
              f"{'met' if heavy <= RATIO_GOAL else 'NOT met'}), {before:.2f}× forking Worker as before")
        print(f"  in CPU time: {heavy_cpu:.2f}× heavy worker, {before_cpu:.2f}× forking Worker as before "
              "(wall-clock ratios suffer most from other processes on the machine)")
        app_engine_dispose(app)
    return 0


def _spread(values: list[float], spec: str = ".3f") -> str:
    """median (min–max) of the rounds."""
    return f"{statistics.median(values):{spec}} ({min(values):{spec}}–{max(values):{spec}})"


def app_engine_dispose(app) -> None:
    from service.extensions import db

    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
