"""Every benchmark still runs: each one, in its smoke mode (tiny sizes, seconds), run as
a subprocess with this interpreter, completes and prints its figures. The figures are
not judged: numbers from a loaded test machine and tiny inputs mean nothing. (The load
script's verdict itself is tested in test_load.py.)"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, ROOT
from tests.fixtures.services import unavailable

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_SECONDS = 240  # each smoke run takes 3-30 s on two busy cores
NUMBER = r"[\d.,]+"

# bench -> the lines it must print, each with its figures.
FIGURES: dict[str, list[str]] = {
    "upload.py": [
        rf"^throughput  app {NUMBER} MB/s  direct boto3 {NUMBER} MB/s  ratio {NUMBER}x",
        rf"^web worker RSS  idle {NUMBER} MiB  peak {NUMBER} MiB  growth -?{NUMBER} MiB",
    ],
    "routing.py": [
        rf"^ +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}$",
        rf"^  {NUMBER} vs {NUMBER} \({NUMBER}x clinics\): full path {NUMBER}, rank alone {NUMBER}$",
        r"^goal: under 10 ms per case at 1,000 clinics on SQLite: ",
        r"^goal: under 10 ms per case at 1,000 clinics on PostgreSQL: ",
        rf"^goal: growth <= 1.1 on PostgreSQL: (met|NOT met) \(worst {NUMBER}\)$",
    ],
    "paperwork.py": [
        rf"^ratio \(median of rounds\): +{NUMBER}×",
        rf"^peak RSS \(VmHWM\): +{NUMBER} MiB",
        rf"^dossier job / WeasyPrint alone: {NUMBER}× heavy worker .*, {NUMBER}× forking Worker as before$",
    ],
    "throttled_upload.py": [
        r"final state 'done'$",
        rf"^total time / ideal \({NUMBER} s\): {NUMBER}x$",
        rf"^page round trip while uploading: median {NUMBER} ms",
    ],
    "load.py": [
        rf"^accepted \(303\) +{NUMBER}$",
        rf"^POST latency +p50 {NUMBER} ms  p95 {NUMBER} ms  p99 {NUMBER} ms$",
        rf"^ratio to bare +{NUMBER}x submissions",
        rf"^ratio to bare app  {NUMBER}x / {NUMBER}x / {NUMBER}x submissions",
        rf"^worker CPU ratio +{NUMBER}x of the forking Worker",
        r"^PASS: zero errors, zero lost$",
    ],
    "slow_clients.py": [
        rf"^direct +form page latency  p50 {NUMBER} s",
        rf"^nginx +form page latency  p50 {NUMBER} s",
        r"^PASS: behind nginx",
    ],
    "previews.py": [
        rf"^HEIC {NUMBER}×{NUMBER} \({NUMBER} MB\)$",
        rf"^CT disc {NUMBER}×{NUMBER}×{NUMBER} \({NUMBER} MB\)$",
        rf"^PDF scan, {NUMBER} pages of {NUMBER}×{NUMBER} \({NUMBER} MB\)$",
        rf"^  time per preview  ours {NUMBER} s  library {NUMBER} s  ratio {NUMBER}×",
        rf"^  peak RSS          ours {NUMBER} MiB  library {NUMBER} MiB  ratio {NUMBER}×",
    ],
    "scale.py": [
        rf"^  queue overdue +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}$",
        rf"^  dashboard 366 days +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}$",
        rf"^  CSV export, every case +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}   rows {NUMBER}  peak {NUMBER} MiB$",
        r"^goal: statement counts the same at every size: ",
    ],
}


def _extra_args(bench: str) -> list[str]:
    if bench == "throttled_upload.py" and not CHROMIUM.exists():
        unavailable("Debian's chromium is not installed (apt-get install -y chromium)")
    if bench in ("load.py", "routing.py", "scale.py"):  # their own database, on the tests' PostgreSQL server
        admin = make_url(POSTGRES_URL).set(drivername="postgresql", database="postgres")
        return ["--postgres", admin.render_as_string(hide_password=False)]
    return []


# In bench/ but not benches: the bare app bench/load.py measures the app against.
NOT_BENCHES = {"bare_app.py"}


def test_every_bench_has_a_smoke_run():
    # Modules starting with "_" are the benches' shared parts (`_pictures.py`), not benches.
    assert sorted(FIGURES) == sorted(
        path.name for path in (ROOT / "bench").glob("*.py") if not path.name.startswith("_") and path.name not in NOT_BENCHES
    )


@pytest.mark.parametrize("bench", list(FIGURES))
def test_the_bench_runs_in_smoke_mode_and_prints_its_figures(bench):
    command = [sys.executable, str(ROOT / "bench" / bench), "--smoke", *_extra_args(bench)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output
    for figure in FIGURES[bench]:
        assert re.search(figure, result.stdout, re.MULTILINE), (figure, output)
