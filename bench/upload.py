"""Upload benchmark: the app's intake path against a direct boto3 upload.

`python bench/upload.py` starts an S3 endpoint (moto) and the app under gunicorn
(one sync worker, one thread), both on 127.0.0.1, then in each round:

* app: POSTs N files of S MiB (default 10 x 10 MiB, the intake limits) in one
  multipart request to `/api/v1/requests` and times the HTTP round trip. The body
  is encoded beforehand, so only sending, parsing, checking, hashing, storing and
  answering are timed. Every returned sha256 is checked against hashlib's. The
  files are real PDFs as a scanner makes them (tests/fixtures/scans.py: one page,
  one image of random bytes, so nothing compresses them), so intake opens and
  checks each one as it would a patient's scan.
* direct: `put_object` of the same byte strings, one after the other, to the same
  endpoint and bucket with boto3 (path-style addressing), timed the same way.

Throughput is total file bytes / seconds (MB = 10^6 bytes). The app cannot be
faster than the store it writes to, so the ratio app/direct says how much the app
adds on top of the unavoidable S3 cost; the goal is >= 0.8x.

While the app request runs, a thread samples the web worker's VmRSS from /proc
every ~5 ms and keeps the peak; the kernel's own high-water mark (VmHWM, reset via
/proc/<pid>/clear_refs before the request when allowed) catches spikes between
samples, and the larger of the two counts. Growth is the peak minus the worker's
idle RSS, measured after a small warm-up request; the goal is <= 30 MiB, i.e. the
files are streamed rather than held in memory, and the PDF check reads no image.

Both sides run in the same invocation and the rounds interleave app and direct,
because the machine is noisy: numbers from separate runs are not comparable, and
interleaving spreads the noise over both sides. The summary takes the median
ratio over rounds and the largest RSS growth.

The S3 endpoint runs in its own process rather than in a thread of this one: in
this process it would share the GIL with the boto3 client of the direct upload
(slowing the baseline) but not with the gunicorn worker.

`--smoke` makes one round of 2 files of 1 MiB, in seconds: it checks that the bench
still runs (tests/bench/test_smoke.py), its figures mean nothing.

Exit status: 0 when the measurement completed (goals met or not), 1 when
something failed (a request not answered 201, a hash mismatch, a service that
did not start).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import boto3
import requests
from botocore.client import BaseClient
from botocore.config import Config
from urllib3 import encode_multipart_formdata

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fixtures.scans import scan_pdf  # noqa: E402

HOST = "127.0.0.1"
BUCKET = "medtour-bench"
PREFIX = "bench"
MIB = 1024 * 1024
SAMPLE_INTERVAL = 0.005
THROUGHPUT_GOAL = 0.8
RSS_GOAL_MIB = 30.0
STARTUP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 300.0
SMOKE = {"rounds": 1, "files": 2, "size_mib": 1}


class BenchError(Exception):
    """The measurement could not be made."""


@dataclass(frozen=True)
class Payload:
    """The files of one request, and the multipart body carrying them."""

    files: list[tuple[str, bytes]]
    body: bytes
    content_type: str

    @property
    def total_bytes(self) -> int:
        return sum(len(data) for _, data in self.files)


@dataclass(frozen=True)
class RoundResult:
    app_seconds: float
    direct_seconds: float
    peak_rss: int
    total_bytes: int

    @property
    def app_mbps(self) -> float:
        return self.total_bytes / self.app_seconds / 1e6

    @property
    def direct_mbps(self) -> float:
        return self.total_bytes / self.direct_seconds / 1e6

    @property
    def ratio(self) -> float:
        return self.direct_seconds / self.app_seconds


# --- processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1):
        return True


def wait_for(
    check: Callable[[], bool], what: str, proc: subprocess.Popen, timeout: float = STARTUP_TIMEOUT
) -> None:
    """Poll `check()` until it is true; fail early if `proc` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with status {proc.returncode} while starting")
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise BenchError(f"{what} did not come up within {timeout:.0f} s")


def start_s3(log_path: Path) -> tuple[subprocess.Popen, str]:
    """moto's S3 server in its own process; returns it and its endpoint URL."""
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://{HOST}:{port}"
    wait_for(lambda: port_open(port), "moto server", proc)
    return proc, endpoint


def app_env(
    endpoint: str, workdir: Path, *, database_url: str | None = None, redis_url: str | None = None
) -> dict[str, str]:
    """The app's environment: S3 on `endpoint`; by default a SQLite file in `workdir`
    and the system Redis (bench/load.py passes PostgreSQL and a private Redis). Every
    request comes from one address, so the per-address limits are off (a repeated run
    would otherwise meet the hourly submission limit counted in that Redis)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url or f"sqlite:///{workdir / 'bench.db'}",
        STORAGE_URL=f"s3://{BUCKET}/{PREFIX}",
        AWS_ENDPOINT_URL_S3=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        SECRET_KEY="bench-secret-key-not-for-production",
        REDIS_URL=redis_url or f"redis://{HOST}:6379/0",
        RATELIMIT_ENABLED="0",
    )
    return env


def flask_cli(env: dict[str, str], *args: str, cwd: Path = REPO) -> None:
    """`flask --app wsgi ...` of the tree at `cwd` (an older checkout for bench/load.py's --before)."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BenchError(f"flask {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def start_gunicorn(
    env: dict[str, str], workdir: Path, *, workers: int = 1, threads: int = 1, cwd: Path = REPO
) -> tuple[subprocess.Popen, str]:
    """By default one sync worker with one thread: the whole request runs in one process.
    More than one thread makes gunicorn use its gthread worker. `wsgi:app` is the tree's
    at `cwd` (an older checkout for bench/load.py's --before)."""
    port = free_port()
    log = (workdir / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn",
            "--workers", str(workers),
            "--threads", str(threads),
            "--timeout", "300",
            "--bind", f"{HOST}:{port}",
            "--access-logfile", str(workdir / "access.log"),
            "--access-logformat", '%(m)s %(U)s %(s)s %(b)s %(D)sus',
            "wsgi:app",
        ],
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    wait_for(lambda: requests.get(f"{base}/healthz", timeout=2).status_code == 200, "gunicorn", proc)
    return proc, base


def worker_pid(master: int) -> int:
    """The single worker gunicorn forked."""
    children_file = Path(f"/proc/{master}/task/{master}/children")
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        children = children_file.read_text().split()
        if len(children) == 1:
            return int(children[0])
        time.sleep(0.1)
    raise BenchError(f"gunicorn master {master} has children {children}, expected exactly one")


def stop(proc: subprocess.Popen | None, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print(f"{name} ignored SIGTERM; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


# --- memory ------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A `kB` line of /proc/<pid>/status, e.g. VmRSS or VmHWM."""
    with open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            if line.startswith(field.encode() + b":"):
                return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


def rss(pid: int) -> int:
    return status_kib(pid, "VmRSS") * 1024


def idle_rss(pid: int, samples: int = 7, gap: float = 0.1) -> int:
    values = []
    for _ in range(samples):
        values.append(rss(pid))
        time.sleep(gap)
    return int(statistics.median(values))


def reset_high_water_mark(pid: int) -> bool:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples a process's RSS in a thread while the `with` block runs."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = rss(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))


# --- payloads ----------------------------------------------------------------


def first_treatment_slug() -> str:
    catalog = json.loads((REPO / "data" / "catalog.json").read_text(encoding="utf-8"))
    return catalog["treatments"][0]["slug"]


def make_files(count: int, size: int) -> list[tuple[str, bytes]]:
    """Distinct real PDFs of `size` bytes, nearly all image of random bytes: incompressible."""
    return [(f"scan-{i:02d}.pdf", scan_pdf(size)) for i in range(1, count + 1)]


def make_payload(files: list[tuple[str, bytes]], treatment: str) -> Payload:
    fields: list[tuple[str, object]] = [
        ("full_name", "Bench Patient"),
        ("email", "bench@example.org"),
        ("country", "DE"),
        ("language", "de"),
        ("treatment", treatment),
        ("description", "Benchmark upload: scans and lab results for the clinic to review."),
        ("consent", "y"),
    ]
    fields += [("files", (name, data, "application/pdf")) for name, data in files]
    body, content_type = encode_multipart_formdata(fields)
    return Payload(files=files, body=body, content_type=content_type)


# --- the two sides -------------------------------------------------------------


def post_request(base: str, payload: Payload) -> tuple[float, dict]:
    """POST the prepared body; returns (seconds, JSON answer). Only the round trip is timed."""
    started = time.perf_counter()
    response = requests.post(
        f"{base}/api/v1/requests",
        data=payload.body,
        headers={"Content-Type": payload.content_type},
        timeout=REQUEST_TIMEOUT,
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise BenchError(f"POST /api/v1/requests answered {response.status_code}: {response.text[:2000]}")
    return elapsed, response.json()


def check_hashes(payload: Payload, answer: dict) -> None:
    expected = {name: hashlib.sha256(data).hexdigest() for name, data in payload.files}
    got = {a["filename"]: a["sha256"] for a in answer.get("attachments", [])}
    if answer.get("warnings"):
        raise BenchError(f"the app answered with warnings: {answer['warnings']}")
    if got != expected:
        raise BenchError(f"stored files differ from the sent ones:\nexpected {expected}\ngot      {got}")


def s3_client(endpoint: str) -> BaseClient:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def direct_upload(client: BaseClient, files: Sequence[tuple[str, bytes]], prefix: str) -> float:
    """The same headers the app's S3 store sends: type, disposition, encryption at rest."""
    started = time.perf_counter()
    for name, data in files:
        client.put_object(
            Bucket=BUCKET,
            Key=f"{prefix}/{name}",
            Body=data,
            ContentType="application/pdf",
            ContentDisposition=f'attachment; filename="{name}"',
            ServerSideEncryption="AES256",
        )
    return time.perf_counter() - started


def empty_bucket(client: BaseClient) -> None:
    """Keep the endpoint's memory flat between rounds (moto holds objects in memory)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})


def app_round(base: str, pid: int, payload: Payload) -> tuple[float, int]:
    """Returns (seconds, peak RSS in bytes) of one request through the app."""
    hwm_reset = reset_high_water_mark(pid)
    with RssSampler(pid) as sampler:
        seconds, answer = post_request(base, payload)
    peak = sampler.peak
    if hwm_reset:
        peak = max(peak, status_kib(pid, "VmHWM") * 1024)
    check_hashes(payload, answer)
    return seconds, peak


def rounds(
    base: str, pid: int, client: BaseClient, payload: Payload, count: int
) -> Iterator[RoundResult]:
    for number in range(1, count + 1):
        app_seconds, peak = app_round(base, pid, payload)
        direct_seconds = direct_upload(client, payload.files, f"direct/{number}")
        empty_bucket(client)
        yield RoundResult(app_seconds, direct_seconds, peak, payload.total_bytes)


# --- report --------------------------------------------------------------------


def mib(value: float) -> float:
    return value / MIB


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def print_header(args: argparse.Namespace, idle: int, slug: str) -> None:
    print(
        f"{args.files} files x {args.size_mib} MiB per request, {args.rounds} rounds, "
        f"treatment {slug!r}; gunicorn 1 sync worker, S3 = moto on {HOST}"
    )
    print(f"web worker idle RSS after warm-up: {mib(idle):.1f} MiB\n")
    print(f"{'round':>5}  {'app MB/s':>9}  {'direct MB/s':>11}  {'ratio':>6}  {'peak RSS MiB':>12}  {'growth MiB':>10}")


def print_round(number: int, result: RoundResult, idle: int) -> None:
    print(
        f"{number:>5}  {result.app_mbps:>9.1f}  {result.direct_mbps:>11.1f}  {result.ratio:>5.2f}x"
        f"  {mib(result.peak_rss):>12.1f}  {mib(result.peak_rss - idle):>10.1f}",
        flush=True,
    )


def print_summary(results: list[RoundResult], idle: int) -> None:
    ratio = statistics.median(r.ratio for r in results)
    app = statistics.median(r.app_mbps for r in results)
    direct = statistics.median(r.direct_mbps for r in results)
    peak = max(r.peak_rss for r in results)
    growth = mib(peak - idle)
    print()
    print(
        f"throughput  app {app:.1f} MB/s  direct boto3 {direct:.1f} MB/s  ratio {ratio:.2f}x"
        f"  (goal >= {THROUGHPUT_GOAL}x: {verdict(ratio >= THROUGHPUT_GOAL)})"
    )
    print(
        f"web worker RSS  idle {mib(idle):.1f} MiB  peak {mib(peak):.1f} MiB  growth {growth:.1f} MiB"
        f"  (goal <= {RSS_GOAL_MIB:.0f} MiB: {verdict(growth <= RSS_GOAL_MIB)})"
    )
    print("(app/direct MB/s are medians over rounds; ratio is the median of per-round ratios; peak is the max)")


# --- main ------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved app/direct rounds (default 3)")
    parser.add_argument("--files", type=int, default=10, help="files per request (default 10)")
    parser.add_argument("--size-mib", type=int, default=10, help="size of each file in MiB (default 10)")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that the bench runs: 1 round of 2 files of 1 MiB (overrides the sizes)")
    args = parser.parse_args(argv)
    if args.smoke:
        vars(args).update(SMOKE)
    if args.rounds < 1 or args.files < 1 or args.size_mib < 1:
        parser.error("--rounds, --files and --size-mib must be at least 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> None:
    s3_proc = gunicorn = None
    try:
        s3_proc, endpoint = start_s3(workdir / "moto.log")
        client = s3_client(endpoint)
        client.create_bucket(Bucket=BUCKET)

        env = app_env(endpoint, workdir)
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "catalog", "load", "data/catalog.json")
        gunicorn, base = start_gunicorn(env, workdir)
        pid = worker_pid(gunicorn.pid)

        slug = first_treatment_slug()
        payload = make_payload(make_files(args.files, args.size_mib * MIB), slug)
        warm_up = make_payload(make_files(1, 64 * 1024), slug)
        check_hashes(warm_up, post_request(base, warm_up)[1])
        direct_upload(client, warm_up.files, "direct/warm-up")
        empty_bucket(client)
        idle = idle_rss(pid)

        print_header(args, idle, slug)
        results = []
        for number, result in enumerate(rounds(base, pid, client, payload, args.rounds), start=1):
            print_round(number, result, idle)
            results.append(result)
        print_summary(results, idle)
    except BenchError:
        show_log(workdir / "gunicorn.log")
        raise
    finally:
        stop(gunicorn, "gunicorn")
        stop(s3_proc, "moto server")


def show_log(path: Path, lines: int = 40) -> None:
    if path.exists():
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {path.name} ---", *tail, sep="\n", file=sys.stderr)


def interrupt(signum: int, _frame: object) -> None:
    """Ctrl-C and SIGTERM both stop cleanly: the servers run in their own sessions,
    so only this process gets the signal, and `run` stops them in order."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)
    with tempfile.TemporaryDirectory(prefix="medtour-bench-") as tmp:
        try:
            run(args, Path(tmp))
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
