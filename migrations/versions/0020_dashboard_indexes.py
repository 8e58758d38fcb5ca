"""the dashboard's figures from covering indexes by creation time (issue 20, dashboard)

Revision ID: 0020_dashboard_indexes
Revises: 0019_priority_rank
Create Date: 2026-12-07 23:45:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020_dashboard_indexes'
down_revision = '0019_priority_rank'
branch_labels = None
depends_on = None


def upgrade():
    # Every figure of the dashboard is a count over the cases (or referrals) created in a
    # period: with the columns it groups and filters by in the index, each is a range of
    # the index alone instead of a pass over the tables' wide rows. Each replaces the
    # plain created_at index, its prefix. (Index changes only: no table is copied.)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(
            'ix_cases_created_at_figures',
            ['created_at', 'status', 'closed_reason', 'treatment_id', 'country', 'first_response_at', 'id'],
            unique=False,
        )
        batch_op.drop_index('ix_cases_created_at')
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index(
            'ix_referrals_created_at_figures', ['created_at', 'clinic_id', 'status', 'responded_at', 'id'], unique=False,
        )
        batch_op.drop_index('ix_referrals_created_at')


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_created_at', ['created_at'], unique=False)
        batch_op.drop_index('ix_referrals_created_at_figures')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_created_at', ['created_at'], unique=False)
        batch_op.drop_index('ix_cases_created_at_figures')
