"""catalogue version: a token that changes with every catalogue change, so each process
re-reads its cached catalogue only when it must

Revision ID: 0008_catalog_version
Revises: 0007_attachment_active_content
Create Date: 2026-12-02 19:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_catalog_version'
down_revision = '0007_attachment_active_content'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'catalog_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'token': 'initial'}])


def downgrade():
    op.drop_table('catalog_version')
