"""sla deadline stored on the case (issue 20, scale)

The queue filters and sorts on `cases.sla_due_at` instead of a subquery per case;
creation times are indexed for the queue's order and the dashboard's periods. Existing
open cases get their deadline by the same rules the application uses from now on
(`service.cases.sla.stored_due`, over plain rows).

Revision ID: 0016_sla_deadline
Revises: 0015_catalogue_languages
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_sla_deadline'
down_revision = '0015_catalogue_languages'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_sla_due_at'), ['sla_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_created_at'), ['created_at'], unique=False)
        # The queue's filters by country (and its list of countries) and by treatment.
        batch_op.create_index(batch_op.f('ix_cases_country'), ['country'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_treatment_id'), ['treatment_id'], unique=False)
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referrals_created_at'), ['created_at'], unique=False)
    backfill(op.get_bind())


def backfill(connection) -> None:
    """Store the deadline of every case not closed, a batch of cases at a time."""
    from service.cases import sla
    from service.models.types import UTCDateTime

    stamp = UTCDateTime()
    cases = sa.table(
        'cases', sa.column('id'), sa.column('status'), sa.column('created_at', stamp),
        sa.column('first_response_at', stamp), sa.column('sla_paused_since', stamp),
        sa.column('sla_paused_seconds'), sa.column('sla_due_at', stamp),
    )
    referrals = sa.table(
        'referrals', sa.column('case_id'), sa.column('status'), sa.column('created_at', stamp),
        sa.column('responded_at', stamp),
    )
    questions = sa.table(
        'patient_questions', sa.column('case_id'), sa.column('asked_at', stamp), sa.column('answered_at', stamp),
    )
    last_id = 0
    while True:
        batch = connection.execute(
            sa.select(cases).where(cases.c.id > last_id, cases.c.status != 'closed').order_by(cases.c.id).limit(BATCH)
        ).all()
        if not batch:
            return
        ids = [row.id for row in batch]
        by_case: dict[int, list] = {}
        for row in connection.execute(sa.select(referrals).where(referrals.c.case_id.in_(ids))):
            by_case.setdefault(row.case_id, []).append(row)
        pauses: dict[int, list] = {}
        for row in connection.execute(
            sa.select(questions).where(questions.c.case_id.in_(ids), questions.c.answered_at.is_not(None))
        ):
            pauses.setdefault(row.case_id, []).append((row.asked_at, row.answered_at))
        updates = [
            {'case_id': row.id, 'due': due}
            for row in batch
            if (due := sla.stored_due(row, by_case.get(row.id, []), pauses.get(row.id, []))) is not None
        ]
        if updates:
            connection.execute(
                cases.update().where(cases.c.id == sa.bindparam('case_id')).values(sla_due_at=sa.bindparam('due', type_=stamp)),
                updates,
            )
        last_id = ids[-1]


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referrals_created_at'))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_treatment_id'))
        batch_op.drop_index(batch_op.f('ix_cases_country'))
        batch_op.drop_index(batch_op.f('ix_cases_created_at'))
        batch_op.drop_index(batch_op.f('ix_cases_sla_due_at'))
        batch_op.drop_column('sla_due_at')
