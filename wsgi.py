"""The composition root: the web app with the workers composed onto it.

`gunicorn wsgi:app` and `flask --app wsgi ...` use `app`, built on first access (a
module `__getattr__`), so importing this module does no I/O; tests and benches call
`create_app(config)`. Only this module imports both `service` and `workers`. The app
built here is the process's own, so its start-up heap is frozen (`service.heap`)."""
from __future__ import annotations

from typing import Any

from flask import Flask

import service
import workers
from service.heap import settle


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = service.create_app(config)
    workers.init_app(app)
    return app


def __getattr__(name: str) -> Flask:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    application = globals()["app"] = create_app()
    settle()
    return application
