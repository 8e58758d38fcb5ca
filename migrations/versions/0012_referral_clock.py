"""the clinic's answer clock: reminder, overdue and escalation marks

Revision ID: 0012_referral_clock
Revises: 0011_messages
Create Date: 2026-12-02 23:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_referral_clock'
down_revision = '0011_messages'
branch_labels = None
depends_on = None


COLUMNS = ('reminded_at', 'overdue_at', 'escalated_at')


def upgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
