"""clinic portal: quotes, clinic users, choice, erasure

Revision ID: 0004_clinic_portal
Revises: 0003_staff
Create Date: 2026-11-25 11:54:42.188603

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_clinic_portal'
down_revision = '0003_staff'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('quotes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('includes', sa.JSON(), nullable=False),
    sa.Column('earliest_date', sa.Date(), nullable=False),
    sa.Column('stay_days', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('patient_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_quotes_created_by_id_users')),
    sa.ForeignKeyConstraint(['referral_id'], ['referrals.id'], name=op.f('fk_quotes_referral_id_referrals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
    sa.UniqueConstraint('referral_id', 'version', name=op.f('uq_quotes_referral_id'))
    )
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quotes_referral_id'), ['referral_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chosen_quote_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('erasure_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_cases_chosen_quote', 'quotes', ['chosen_quote_id'], ['id'])

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decline_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clinic_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signin_nonce_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_clinic_id_clinics'), 'clinics', ['clinic_id'], ['id'])



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_clinic_id_clinics'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_clinic_id'))
        batch_op.drop_column('signin_nonce_hash')
        batch_op.drop_column('clinic_id')

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('decline_reason')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint('fk_cases_chosen_quote', type_='foreignkey')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('erasure_requested_at')
        batch_op.drop_column('chosen_quote_id')

    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quotes_referral_id'))

    op.drop_table('quotes')
