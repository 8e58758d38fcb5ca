"""A 10 MiB file through the request form's upload widget on a 1 Mbit/s uplink.

`python bench/throttled_upload.py` serves the app on loopback (its own SQLite file and
file store in a temporary folder), opens the form in Debian's Chromium (Playwright),
throttles the page's upload to 1 Mbit/s with the DevTools protocol, picks a 10 MiB file
and samples every second until the widget says it is done:

* the progress bar's value: throughput per 5-second window as a ratio to the link's
  rate (steady progress means every window near 1.0, none at 0);
* the page's responsiveness: the round trip of a tiny script evaluated in the page
  (main thread busy -> long round trip), its maximum and 95th percentile;
* the total time as a ratio to the ideal (size × 8 / 1 Mbit/s).

The file is a real PDF as a scanner makes it (tests/fixtures/scans.py), so the server
checks it once complete as it would a patient's scan.

Ratios, not seconds, are the figures to compare between runs: the machines are noisy.
It takes about a minute and a half. Loopback only; it stops by itself (a 5-minute cap).
`--smoke` sends 0.75 MiB instead, in about 15 seconds: it checks that the bench still
runs (tests/bench/test_smoke.py), its figures mean nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from tests.fixtures.scans import scan_pdf  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LINK_BITS_PER_SECOND = 1_000_000
WINDOW_SECONDS = 5
CAP_SECONDS = 300
SMOKE = {"mib": 0.75}


def _serve(tmp: Path):
    import logging

    from flask_migrate import upgrade
    from werkzeug.serving import make_server

    from wsgi import create_app
    from service.catalog.loader import load_file
    from service.extensions import db

    app = create_app({
        "SECRET_KEY": "bench-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
        "STORAGE_URL": f"file://{tmp / 'store'}",
        # Nothing listens there: the relays after a commit fail quietly, no worker is needed.
        "REDIS_URL": "redis://127.0.0.1:1/0",
    })
    with app.app_context():
        upgrade()
        load_file(ROOT / "data" / "catalog.json")
        db.session.remove()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=10.0, help="file size in MiB (default 10)")
    parser.add_argument("--smoke", action="store_true",
                        help="only check that the bench runs: a 0.75 MiB file (overrides --mib)")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(SMOKE)
    from playwright.sync_api import sync_playwright

    from service.limits import MAX_FILE_BYTES

    size = min(int(args.mib * 1024 * 1024), MAX_FILE_BYTES)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "scan.pdf").write_bytes(scan_pdf(size))
        server = _serve(tmp)
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(base_url=base)
                page.goto("/requests/new")
                cdp = page.context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": 0, "downloadThroughput": -1,
                    "uploadThroughput": LINK_BITS_PER_SECOND / 8,
                })
                page.locator("input[type=file][name=files]").set_input_files(str(tmp / "scan.pdf"))
                item = page.locator("[data-picked] li").first
                bar = item.locator("progress")
                samples: list[tuple[float, float]] = []
                pings: list[float] = []
                started = time.monotonic()
                while time.monotonic() - started < CAP_SECONDS:
                    time.sleep(1)
                    asked = time.monotonic()
                    value = bar.evaluate("p => p.value")
                    pings.append(time.monotonic() - asked)
                    samples.append((time.monotonic() - started, float(value or 0)))
                    if item.get_attribute("data-state") == "done":
                        break
                state = item.get_attribute("data-state")
                browser.close()
        finally:
            server.shutdown()

    elapsed = samples[-1][0]
    ideal = size * 8 / LINK_BITS_PER_SECOND
    rate = LINK_BITS_PER_SECOND / 8
    windows = []
    for i in range(WINDOW_SECONDS, len(samples), WINDOW_SECONDS):
        (t0, v0), (t1, v1) = samples[i - WINDOW_SECONDS], samples[i]
        windows.append((v1 - v0) / (t1 - t0) / rate)
    stalled = sum(1 for (_, a), (_, b) in zip(samples, samples[1:]) if b <= a and b < size)
    pings_ms = sorted(p * 1000 for p in pings)
    print(f"file {size / 1024 / 1024:.1f} MiB on a {LINK_BITS_PER_SECOND / 1e6:g} Mbit/s uplink: final state {state!r}")
    print(f"total time / ideal ({ideal:.1f} s): {elapsed / ideal:.2f}x")
    if windows:
        print(f"throughput per {WINDOW_SECONDS} s window / link rate: min {min(windows):.2f}, "
              f"median {statistics.median(windows):.2f}, max {max(windows):.2f} ({len(windows)} windows)")
    print(f"1-second samples without progress: {stalled} of {len(samples) - 1}")
    print(f"page round trip while uploading: median {statistics.median(pings_ms):.0f} ms, "
          f"p95 {pings_ms[int(0.95 * (len(pings_ms) - 1))]:.0f} ms, max {pings_ms[-1]:.0f} ms")
    return 0 if state == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
