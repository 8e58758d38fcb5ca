"""Medtour web service: the application factory of the web side. The workers are
composed onto it at the top (`wsgi.create_app`), never imported from here."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from service import config as config_module


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(config_module.load(app.instance_path))
    if config:
        app.config.update(config)
        if "MAX_CONTENT_LENGTH" not in config:
            config_module.finalize(app.config)
    app.url_map.strict_slashes = False
    _configure_logging(app)

    from service import errors, i18n, security, store
    from service.catalog import snapshot
    from service.extensions import configure_engine, csrf, db, migrate

    db.init_app(app)
    configure_engine(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    csrf.init_app(app)
    i18n.init_app(app)
    snapshot.init_app(app)
    store.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from service.blueprints import api, downloads, public, requests, status, status_access, status_messages, tus
    from service.blueprints import catalogue, status_calendar, time_zone

    # tus stays under CSRFProtect: its POST/PATCH/DELETE carry the page's token in X-CSRFToken.
    for module in (public, requests, status, status_messages, status_access, downloads, tus, status_calendar,
                   catalogue):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    # The browser reports its time zone: JSON from the same origin only (checked in the view).
    app.register_blueprint(time_zone.bp)
    csrf.exempt(time_zone.bp)

    from service.accounts import guard

    guard.init_app(app)
    # Staff console blueprints (all under /staff):
    from service import throttling
    from service.accounts import signin_throttle
    from service.blueprints import (
        clinic_auth,
        clinic_portal,
        password_reset,
        staff_auth,
        staff_case,
        staff_catalog,
        staff_dashboard,
        staff_deposit,
        staff_messages,
        staff_queue,
        staff_templates,
        staff_trip,
        status_deposit,
    )

    staff_auth.init_app(app)
    clinic_auth.init_app(app)
    # The app's one limiter, with the submission limit on the form and the API.
    throttling.init_app(app)
    signin_throttle.init_app(app, (*staff_auth.SIGNIN_ENDPOINTS, *clinic_auth.SIGNIN_ENDPOINTS))
    status_access.init_limits(app)
    # The deposit (staff forms, the patient's section), the trip page, the page a reset link opens.
    for module in (staff_queue, staff_case, staff_messages, staff_templates, staff_dashboard, staff_catalog,
                   clinic_portal, staff_deposit, status_deposit, staff_trip, password_reset):
        app.register_blueprint(module.bp)

    from service.accounts.cli import users_cli
    from service.catalog.cli import catalog_cli, fx_cli
    from service.demo.cli import demo_cli

    app.cli.add_command(catalog_cli)
    app.cli.add_command(fx_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)

    from service import templating

    templating.init_app(app)
    return app


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _configure_logging(app: Flask) -> None:
    level = app.config.get("LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.logger.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # WeasyPrint reports every layout step at INFO: noise next to our own lines.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
