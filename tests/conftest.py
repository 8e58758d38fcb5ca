"""Shared fixtures: the app on SQLite and on PostgreSQL, a rollback per test, the
real Redis, and object stores (the local one and S3 on moto)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from tests.fixtures.services import port_open, unavailable

pytest_plugins = ["tests.fixtures.catalogues", "tests.fixtures.s3", "tests.fixtures.smtp", "tests.fixtures.staff",
                  "tests.fixtures.mail_in"]

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "data" / "catalog.json"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _postgres_schema_url() -> Iterator[str]:
    if not port_open("127.0.0.1", 5432):
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"medtour_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # connection refused, auth, missing database
        admin.dispose()
        unavailable(f"PostgreSQL at {POSTGRES_URL} cannot be used: {exc}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path_factory.mktemp("sqlite") / "test.db")
    else:
        yield from _postgres_schema_url()


def make_config(database_url: str, tmp: Path, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STORAGE_URL": f"file://{tmp / 'store'}",
        "REDIS_URL": REDIS_URL,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "medtour.test",
        # The suite submits every case from one address; tests/service/test_throttling.py sets its own.
        "SUBMISSION_RATE_LIMIT": "1000000 per hour",
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from flask_migrate import upgrade

    from wsgi import create_app
    from service.catalog.loader import load_file

    application = create_app(make_config(database_url, tmp_path_factory.mktemp("app")))
    with application.app_context():
        upgrade()
        load_file(CATALOG)
    yield application
    with application.app_context():
        from service.extensions import db

        db.engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator:
    """Every test runs inside a transaction that is rolled back afterwards; the code
    under test may commit freely (its commits become SAVEPOINT releases)."""
    from flask_sqlalchemy.session import _app_ctx_id
    from sqlalchemy.orm import Session, scoped_session, sessionmaker

    from service.extensions import db

    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        # Plain SQLAlchemy sessions: Flask-SQLAlchemy's own would pick the engine, not this connection.
        db.session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint", class_=Session),
            scopefunc=_app_ctx_id,
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app: Flask, db_session) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def app_ctx(app: Flask, db_session) -> Iterator[Flask]:
    with app.test_request_context():
        yield app


@pytest.fixture
def storage(app: Flask):
    return app.extensions["storage"]


@pytest.fixture
def s3_storage(app: Flask, s3_endpoint: str, s3_bucket: str) -> Iterator:
    """Point the app at a fresh bucket on the moto S3 server for one test."""
    from storage import from_url

    original = app.extensions["storage"]
    app.extensions["storage"] = from_url(
        f"s3://{s3_bucket}/medtour", secret_key=app.config["SECRET_KEY"], endpoint_url=s3_endpoint
    )
    try:
        yield app.extensions["storage"]
    finally:
        app.extensions["storage"] = original


@pytest.fixture
def redis_url() -> str:
    if not port_open("127.0.0.1", 6379):
        unavailable("Redis is not reachable at 127.0.0.1:6379")
    return REDIS_URL
