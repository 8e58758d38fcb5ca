"""`flask --app wsgi worker [--burst]`: an RQ worker running inside the app context."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Worker

from workers.queues import ALL, redis_connection


@click.command("worker")
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option("--queue", "queues", multiple=True, type=click.Choice(ALL), help="Listen to these queues only.")
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run a worker with the scheduler on the declared queues."""
    connection = redis_connection()
    try:
        connection.ping()
    except RedisConnectionError as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from exc
    worker = Worker(list(queues or ALL), connection=connection)
    worker.work(burst=burst, with_scheduler=True)
