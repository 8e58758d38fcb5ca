"""The Alembic migrations build exactly the schema the models describe, on SQLite and
PostgreSQL alike (the app fixture runs `upgrade` on each)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.extensions import db


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_cli_upgrade_is_a_no_op_when_current(app):
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_sqlite_migrations_run_over_existing_cases(tmp_path):
    """SQLite alters a table by copying it; with rows pointing at `cases` (referrals,
    events) that must still work, and foreign keys must be enforced again afterwards."""
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from wsgi import create_app
    from tests.conftest import make_config

    app = create_app(make_config(f"sqlite:///{tmp_path / 'old.db'}", tmp_path))
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO treatments (id, slug, name, category, description) VALUES (1, 't', 'T', 'dental', '')"
            ))
            connection.execute(sa.text(
                "INSERT INTO cases (id, reference, token_hash, status, source, full_name, email, country, language,"
                " treatment_id, description, consent_at, created_at, updated_at, priority, sla_paused_seconds, version)"
                " VALUES (1, 'MT-2026-000001', 'h', 'submitted', 'web', 'A', 'a@example.org', 'KZ', 'en', 1, 'd',"
                " '2026-01-01', '2026-01-01', '2026-01-01', 'normal', 0, 1)"
            ))
            connection.execute(sa.text(
                "INSERT INTO case_events (case_id, actor, kind, details, created_at)"
                " VALUES (1, 'patient', 'case_submitted', '{}', '2026-01-01')"
            ))
        downgrade(revision="0003_staff")
        upgrade()
        with db.engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 1
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()
