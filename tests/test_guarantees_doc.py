"""docs/guarantees.md points each guarantee at a test: every test it names must exist, so
a renamed or deleted test cannot leave a guarantee pointing at nothing."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_guarantee_names_a_test_that_exists():
    doc = (ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| ") and not line.startswith(("| guarantee", "| ---"))]
    assert len(rows) >= 60, "the guarantees of issues 6 and 7"
    assert all(CITED.search(row) for row in rows), [row for row in rows if not CITED.search(row)]
    missing = [f"{path}::{name}" for path, name in CITED.findall(doc)
               if not (ROOT / path).is_file() or name not in _tests_in(ROOT / path)]
    assert missing == []
