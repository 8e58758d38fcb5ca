"""Private services for the fault tests: a Redis, a PostgreSQL cluster and an S3 endpoint
of their own, on free ports, that a test may stop and start again. The machine's own
PostgreSQL and Redis are never touched."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.fixtures.services import free_port, port_open, unavailable

REDIS_SERVER = Path("/usr/bin/redis-server")
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
START_SECONDS = 30


def wait_until(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s")
        time.sleep(0.05)


class PrivateRedis:
    """A redis-server child process without persistence; `stop` and `start` keep its port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _answers(self) -> bool:
        try:
            return bool(Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(REDIS_SERVER), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, START_SECONDS, f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        wait_until(lambda: not port_open("127.0.0.1", self.port), 10, "redis-server kept its port")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if not REDIS_SERVER.exists():
        unavailable(f"{REDIS_SERVER} is not installed")
    server = PrivateRedis(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster under /tmp, run as the `postgres` OS user
    (initdb refuses root), listening on 127.0.0.1 only, with trust authentication."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="medtour-faults-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(str(POSTGRES_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self._run(
            str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"), "-w",
            "-t", str(START_SECONDS), "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )
        wait_until(lambda: port_open("127.0.0.1", self.port), START_SECONDS,
                   f"PostgreSQL did not listen on port {self.port}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(POSTGRES_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        wait_until(lambda: not port_open("127.0.0.1", self.port), 10, "PostgreSQL kept its port")

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (POSTGRES_BIN / "initdb").exists() or not (POSTGRES_BIN / "pg_ctl").exists():
        unavailable(f"PostgreSQL server binaries are not in {POSTGRES_BIN}")
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


class PrivateS3:
    """A moto S3 server in this process that a test can stop and start on the same port
    (moto keeps its buckets in the process, so they survive the restart)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        wait_until(lambda: port_open("127.0.0.1", self.port), START_SECONDS,
                   f"moto did not answer on port {self.port}")

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.stop()
        self.server = None
        wait_until(lambda: not port_open("127.0.0.1", self.port), 10, "moto kept its port")


@pytest.fixture
def private_s3(s3_endpoint: str) -> Iterator[PrivateS3]:
    """Needs `s3_endpoint` only for the dummy AWS credentials it puts in the environment."""
    server = PrivateS3()
    try:
        server.start()
        yield server
    finally:
        server.stop()
