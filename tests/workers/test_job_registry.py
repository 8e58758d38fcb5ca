"""Every `Job` has its function and queue in `workers.jobs.JOBS`, and every job function
there has its `Job`: a hand-off can name no job that nothing runs."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

from service.outbox import Job
from workers import jobs, queues

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_has_a_function_and_a_queue():
    assert set(jobs.JOBS) == set(Job)
    assert all(spec.queue in queues.ALL for spec in jobs.JOBS.values())


def test_every_job_function_has_a_job():
    functions = {
        function for name, function in inspect.getmembers(jobs, inspect.isfunction)
        if function.__module__ == jobs.__name__ and not name.startswith("_")
    }
    assert functions == {spec.func for spec in jobs.JOBS.values()}


def test_no_job_is_named_by_a_string_outside_the_enum():
    """Hand-offs name `Job` members (find-usages works); only the enum holds the values."""
    names = {job.value for job in Job}
    found = []
    for folder in ("service", "forms", "storage", "workers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "service" / "outbox.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and node.value in names:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []
