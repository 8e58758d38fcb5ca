"""single-use openers and lifecycle e-mail reminders

Revision ID: 0010_openers
Revises: 0009_user_sessions
Create Date: 2026-12-02 23:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_openers'
down_revision = '0009_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('openers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_openers_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_openers')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_openers_secret_hash'))
    )
    with op.batch_alter_table('openers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_openers_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('openers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_openers_case_id'))

    op.drop_table('openers')
