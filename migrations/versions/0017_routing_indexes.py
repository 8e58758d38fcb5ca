"""indexes that fit the routing candidate query (issue 20, routing)

Revision ID: 0017_routing_indexes
Revises: 0016_sla_deadline
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_routing_indexes'
down_revision = '0016_sla_deadline'
branch_labels = None
depends_on = None


def upgrade():
    # The offers of one treatment, without scanning every clinic's offers.
    with op.batch_alter_table('clinic_treatments', schema=None) as batch_op:
        batch_op.create_index('ix_clinic_treatments_treatment_id_clinic_id', ['treatment_id', 'clinic_id'], unique=False)
    # A clinic's open referrals counted from the index; it replaces the clinic_id index,
    # its prefix.
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_clinic_id_status', ['clinic_id', 'status'], unique=False)
        batch_op.drop_index('ix_referrals_clinic_id')


def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('ix_referrals_clinic_id', ['clinic_id'], unique=False)
        batch_op.drop_index('ix_referrals_clinic_id_status')
    with op.batch_alter_table('clinic_treatments', schema=None) as batch_op:
        batch_op.drop_index('ix_clinic_treatments_treatment_id_clinic_id')
