"""bench/routing.py's `--before DIR`: both trees timed side by side in one run. This
tree stands in for the older checkout (any tree with the routing functions will do);
the figures are not judged, only that both sides ran and were compared."""
from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

NUMBER = r"[\d.,]+"
SPREAD = rf"{NUMBER} / {NUMBER} / {NUMBER}"


def test_before_times_an_older_tree_side_by_side_on_sqlite():
    command = [
        sys.executable, str(ROOT / "bench" / "routing.py"), "--smoke", "--database", "sqlite", "--before", str(ROOT),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output
    for size in ("10", "100", "500"):  # before, after, after/before, cost per candidate of each
        row = rf"^ +{size} +{NUMBER} +{SPREAD} +{SPREAD} +{NUMBER} +{NUMBER} +{NUMBER}$"
        assert re.search(row, result.stdout, re.MULTILINE), (size, output)
    assert re.search(rf"^  500 vs 100 \(5x clinics\): before {NUMBER}, after {NUMBER}$", result.stdout, re.MULTILINE), output
    assert f"before = {ROOT}, after = {ROOT}" in result.stdout, output
    assert "plan of the candidate query at 500 clinics, before:" in result.stdout, output
    assert re.search(r"^goal \(after\): growth <= 1.1 on SQLite: (met|NOT met)", result.stdout, re.MULTILINE), output
