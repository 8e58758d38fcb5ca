"""the priority order as a stored, generated column and indexes on it (issue 20, queue)

Revision ID: 0019_priority_rank
Revises: 0018_routing_sqlite
Create Date: 2026-12-07 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_priority_rank'
down_revision = '0018_routing_sqlite'
branch_labels = None
depends_on = None


def upgrade():
    # The rank is computed by the database from `priority` (service.models.priority, the
    # one place the order is written), for the rows already there too. SQLite cannot
    # ALTER TABLE ADD a STORED generated column; batch mode copies the table instead.
    # A later batch migration that copies `cases` on SQLite must drop this column in the
    # same batch and add it back after (Alembic's copy would INSERT into it, which SQLite
    # refuses for a generated column), as the downgrade here does.
    from service.models.priority import RANK_SQL

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority_rank', sa.Integer(), sa.Computed(RANK_SQL, persisted=True), nullable=False))
    # The queue's priority sort, (rank, created_at, id) ascending: a page is a range of
    # the index from a keyset bound, and its place a count of the range before it; the
    # partial one for the open tab, whose rows are otherwise few among many closed.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_priority_rank_created_at_id', ['priority_rank', 'created_at', 'id'], unique=False)
        batch_op.create_index(
            'ix_cases_open_priority_rank_created_at_id', ['priority_rank', 'created_at', 'id'], unique=False,
            postgresql_where=sa.text("status <> 'closed'"), sqlite_where=sa.text("status <> 'closed'"),
        )


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_open_priority_rank_created_at_id')
        batch_op.drop_index('ix_cases_priority_rank_created_at_id')
        batch_op.drop_column('priority_rank')
