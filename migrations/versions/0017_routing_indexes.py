"""indexes that fit the routing candidate query (issue 20, routing)

Revision ID: 0017_routing_indexes
Revises: 0016_sla_deadline
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_routing_indexes'
down_revision = '0016_sla_deadline'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
