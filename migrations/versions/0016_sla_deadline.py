"""sla deadline stored on the case (issue 20, scale)

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


def upgrade():
    pass


def downgrade():
    pass
