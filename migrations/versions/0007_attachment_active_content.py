"""attachments and staged uploads: flag PDFs that carry scripts or launch actions

Revision ID: 0007_attachment_active_content
Revises: 0006_idempotency_keys
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_attachment_active_content'
down_revision = '0006_idempotency_keys'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('attachments', 'staged_uploads'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('active_content', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    for table in ('staged_uploads', 'attachments'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('active_content')
