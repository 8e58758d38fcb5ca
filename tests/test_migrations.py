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


def test_the_sla_deadline_migration_stores_the_deadline_of_existing_cases(tmp_path):
    """0016 fills `cases.sla_due_at` for the cases already there, by the rules the
    application keeps it with: the stored deadline is the plain functions' next one."""
    from datetime import datetime, timedelta, timezone

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from service.cases import sla
    from service.models import Case
    from wsgi import create_app
    from tests.conftest import make_config

    now = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)

    def at(hours: float) -> str:
        return (now - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S.%f")

    app = create_app(make_config(f"sqlite:///{tmp_path / 'old.db'}", tmp_path))
    with app.app_context():
        upgrade(revision="0015_catalogue_languages")
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO treatments (id, slug, name, category, description) VALUES (1, 't', 'T', 'dental', '')"
            ))
            connection.execute(sa.text(
                "INSERT INTO clinics (id, slug, name, country, city, accepting, capacity, email, translations,"
                " languages, accreditations) VALUES (1, 'c', 'C', 'TR', 'Istanbul', 1, 10, 'c@example.org', '{}',"
                " '[]', '[]')"
            ))
            # (status, age, first response, paused since, paused seconds)
            cases = [
                ("submitted", 30, None, None, 0),  # overdue first response
                ("awaiting_patient", 30, None, at(10), 0),  # paused before it ran out
                ("routed", 100, at(99), None, 20 * 3600),  # clinic clock, a pause after routing
                ("closed", 100, None, None, 0),
                ("chosen", 100, at(99), None, 0),
            ]
            for n, (status, age, responded, paused_since, paused) in enumerate(cases, start=1):
                connection.execute(sa.text(
                    "INSERT INTO cases (id, reference, token_hash, status, source, full_name, email, country, language,"
                    " treatment_id, description, consent_at, created_at, updated_at, priority, first_response_at,"
                    " sla_paused_since, sla_paused_seconds, version)"
                    " VALUES (:id, :ref, :hash, :status, 'web', 'A', 'a@example.org', 'KZ', 'en', 1, 'd', :created,"
                    " :created, :created, 'normal', :responded, :paused_since, :paused, 1)"
                ), {"id": n, "ref": f"MT-2026-{n:06d}", "hash": f"h{n}", "status": status, "created": at(age),
                    "responded": responded, "paused_since": paused_since, "paused": paused})
            connection.execute(sa.text(
                "INSERT INTO referrals (case_id, clinic_id, status, score, reasons, created_at)"
                " VALUES (3, 1, 'pending', 1.0, '[]', :sent), (5, 1, 'pending', 1.0, '[]', :sent)"
            ), {"sent": at(80)})
            connection.execute(sa.text(
                "INSERT INTO patient_questions (case_id, question, resume_status, asked_at, answer, answered_at)"
                " VALUES (3, 'Which knee?', 'routed', :asked, 'The left one.', :answered)"
            ), {"asked": at(60), "answered": at(40)})
        upgrade()
        for case in db.session.scalars(sa.select(Case).order_by(Case.id)):
            for later in (0, 10, 100):
                expected = sla.case_sla(case, now + timedelta(hours=later)).next_due
                assert sla.due_at(case, now + timedelta(hours=later)) == expected, (case.status, later)
        stored = dict(db.session.execute(sa.select(Case.status, Case.sla_due_at)).all())
        assert stored["closed"] is None and stored["chosen"] is None and stored["submitted"] is not None
        db.session.remove()
        db.engine.dispose()
