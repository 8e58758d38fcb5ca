"""a covering index for the routing candidate query (issue 20, routing)

Revision ID: 0018_routing_sqlite
Revises: 0017_routing_indexes
Create Date: 2026-12-07 16:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018_routing_sqlite'
down_revision = '0017_routing_indexes'
branch_labels = None
depends_on = None


def upgrade():
    # The offers of one treatment with their price, read from the index alone in clinic
    # order (no look-up of each offer row, no sort); it replaces the (treatment_id,
    # clinic_id) index of 0017, its prefix.
    with op.batch_alter_table('clinic_treatments', schema=None) as batch_op:
        batch_op.create_index(
            'ix_clinic_treatments_treatment_id_clinic_id_offer',
            ['treatment_id', 'clinic_id', 'price_from', 'currency'],
            unique=False,
        )
        batch_op.drop_index('ix_clinic_treatments_treatment_id_clinic_id')


def downgrade():
    with op.batch_alter_table('clinic_treatments', schema=None) as batch_op:
        batch_op.create_index('ix_clinic_treatments_treatment_id_clinic_id', ['treatment_id', 'clinic_id'], unique=False)
        batch_op.drop_index('ix_clinic_treatments_treatment_id_clinic_id_offer')
