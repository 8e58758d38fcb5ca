"""Extension objects, created unbound and bound to an app in `create_app`."""
from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from service.sqlite_locks import configure_sqlite

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True)
csrf = CSRFProtect()


def configure_engine(app) -> None:
    """SQLite needs help to behave like the production database: enforce foreign
    keys, let the web and worker processes share the file (WAL, busy timeout), let
    SQLAlchemy own BEGIN so SAVEPOINTs work, and take the write lock when a transaction
    that may write begins, never while a client sends (service/sqlite_locks.py)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    configure_sqlite(app, engine, busy_timeout=app.config["SQLITE_BUSY_TIMEOUT"])
