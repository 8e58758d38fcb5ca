"""Slow clients against gunicorn's sync workers, directly and behind deploy/nginx.conf.

`python bench/slow_clients.py` runs the same scene twice, each time on a fresh app
(its own SQLite file, file store and Redis in a temporary folder, all on loopback):

* direct: `gunicorn -w 4` (sync workers, the README's production command) faced by the
  clients, as it was with `--certfile`;
* nginx: the same gunicorn, with PROXY_HOPS=1, behind nginx rendered from
  deploy/nginx.conf by deploy/render-nginx-conf.sh (TLS with a throwaway certificate).

In each, `--slow-clients` patients (8) open the form and send it back, a PDF attached,
trickling the body at `--rate` bytes per second (1 KB/s) for about `--seconds` (20).
Meanwhile a new patient asks for the form every half second (each on its own
connection, not waiting for the previous one): its latency is what the figures are.
It prints, per run, the latency median, 95th percentile and maximum, how many waited
over 2 s or got no answer within `--timeout` (30 s), and what the slow uploads got.
Exit status 1 when any patient behind nginx waited over 2 s or any slow upload behind
nginx was not accepted (303); the direct run is the baseline and is not judged.

It takes about a minute. `--smoke` runs 2 workers and 3 slow clients for 3 seconds, in
about half a minute: it checks that the bench still runs; its figures mean nothing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures import files  # noqa: E402
from tests.fixtures.gunicorn import app_env, prepare_database, private_redis, run_gunicorn  # noqa: E402
from tests.fixtures.nginx import allocate_site, run_nginx  # noqa: E402
from tests.fixtures.raw_http import Target, Visit, open_form, request, slow_post, submission  # noqa: E402

PATIENT_DEADLINE = 2.0
PROBE_INTERVAL = 0.5
# Every slow client at one address of its own (127.0.0.0/8 is all this host): the
# per-address limits stay on, as in production.
SLOW_SOURCES = "127.0.10.{}"


@dataclass
class Run:
    name: str
    latencies: list[float]
    unanswered: int
    uploads: Counter

    def report(self) -> str:
        answered = sorted(self.latencies)
        p95 = answered[min(len(answered) - 1, int(len(answered) * 0.95))] if answered else float("nan")
        slow = sum(1 for latency in answered if latency > PATIENT_DEADLINE)
        return (
            f"{self.name:<7} form page latency  p50 {statistics.median(answered) if answered else float('nan'):.3f} s"
            f"  p95 {p95:.3f} s  max {max(answered, default=float('nan')):.3f} s"
            f"  over {PATIENT_DEADLINE:.0f} s: {slow}/{len(answered) + self.unanswered}"
            f"  no answer: {self.unanswered}  slow uploads: {dict(self.uploads)}"
        )

    @property
    def passes(self) -> bool:
        return (self.unanswered == 0 and all(latency <= PATIENT_DEADLINE for latency in self.latencies)
                and set(self.uploads) == {303})


def _body_for(visit: Visit, number: int, size: int) -> tuple[str, bytes]:
    """A valid submission of about `size` bytes: padded description, a PDF of the rest."""
    description = min(4500, size // 2)
    room = max(0, size - len(submission(visit, number, description_chars=description)[1]))
    return submission(visit, number, description_chars=description,
                      files=[("files", "scan.pdf", files.pdf("Lab result " * (room // 11)))])


def scene(name: str, target: Target, args: argparse.Namespace) -> Run:
    """Slow uploads under way, and a patient every half second asking for the form."""
    size = args.rate * args.seconds
    visits = [open_form(target, source=SLOW_SOURCES.format(n + 1)) for n in range(args.slow_clients)]
    bodies = [_body_for(visit, n, size) for n, visit in enumerate(visits)]
    sending = [threading.Event() for _ in visits]
    probes: list[Future] = []
    with ThreadPoolExecutor(max_workers=args.slow_clients) as slow, ThreadPoolExecutor(max_workers=64) as patients:
        uploads = [
            slow.submit(slow_post, visit, content_type, body, args.rate, timeout=args.timeout + args.seconds,
                        on_sending=event.set)
            for visit, (content_type, body), event in zip(visits, bodies, sending)
        ]
        for event in sending:
            event.wait(10)
        started = time.monotonic()
        while time.monotonic() - started < args.seconds - 1 and not any(upload.done() for upload in uploads):
            probes.append(patients.submit(request, target, "GET", "/requests/new", timeout=args.timeout))
            time.sleep(PROBE_INTERVAL)
        latencies, unanswered = [], 0
        for probe in probes:
            try:
                answer = probe.result()
            except OSError:
                unanswered += 1
                continue
            if answer.status == 200:
                latencies.append(answer.elapsed)
            else:
                unanswered += 1
        outcomes: Counter = Counter()
        for upload in uploads:
            try:
                outcomes[upload.result().status] += 1
            except OSError as exc:
                outcomes[type(exc).__name__] += 1
    return Run(name, latencies, unanswered, outcomes)


def run(args: argparse.Namespace, behind_nginx: bool) -> Run:
    with tempfile.TemporaryDirectory(prefix="medtour-slow-") as tmp:
        workdir = Path(tmp)
        site = allocate_site(workdir) if behind_nginx else None
        with private_redis(workdir) as redis_url:
            env = app_env(f"sqlite:///{workdir / 'medtour.db'}", workdir, REDIS_URL=redis_url,
                          RATELIMIT_ENABLED="1", LOG_LEVEL="WARNING")
            if site is not None:
                env.update(BASE_URL=site.origin, PROXY_HOPS="1")
            prepare_database(env)
            with run_gunicorn(env, workdir, workers=args.workers) as app:
                if site is None:
                    address = urlsplit(app.base_url)
                    return scene("direct", Target(address.hostname, address.port, address.netloc), args)
                with run_nginx(site, app.base_url, workdir) as proxy:
                    return scene("nginx", proxy.target, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (4)")
    parser.add_argument("--slow-clients", type=int, default=8)
    parser.add_argument("--rate", type=int, default=1024, help="bytes per second each slow client sends")
    parser.add_argument("--seconds", type=int, default=20, help="how long each slow upload lasts")
    parser.add_argument("--timeout", type=float, default=30.0, help="a patient gives up after this long")
    parser.add_argument("--smoke", action="store_true", help="2 workers, 3 slow clients, 3 s: it still runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.workers, args.slow_clients, args.seconds = 2, 3, 3
    print(f"{args.slow_clients} clients sending the form at {args.rate} B/s for ~{args.seconds} s "
          f"to gunicorn -w {args.workers} (sync); a patient asks for the form every {PROBE_INTERVAL} s")
    runs = [run(args, behind_nginx=False), run(args, behind_nginx=True)]
    for result in runs:
        print(result.report())
    verdict = runs[1].passes
    print("PASS: behind nginx every patient answered within 2 s and every slow upload accepted" if verdict
          else "FAIL: behind nginx a patient waited over 2 s or a slow upload was not accepted")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
