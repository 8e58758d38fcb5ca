"""Background work on RQ: queues declared once, jobs as plain functions, a worker entry
point, and the periodic chores. `init_app` composes all this onto the web app."""
from __future__ import annotations

from flask import Flask

from workers import outbox
from workers.cli import jobs_cli, worker_command
from workers.mail_in import mail_in_command
from workers.retention import cases_cli
from workers.uploads import uploads_cli


def init_app(app: Flask) -> None:
    """The workers' CLI commands, and the relay behind `service.outbox.commit()`."""
    outbox.init_app(app)
    for command in (worker_command, jobs_cli, uploads_cli, cases_cli, mail_in_command):
        app.cli.add_command(command)
