"""the trip: travellers, legs, the deposit's invoices and payments, the exchange-rate
table, the clinic's street address and the coordinator's name

Revision ID: 0014_trip
Revises: 0013_derived_files
Create Date: 2026-12-03 13:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_trip'
down_revision = '0013_derived_files'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'exchange_rates',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('eur_per_unit', sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint('currency', name=op.f('pk_exchange_rates')),
    )
    op.create_table(
        'travellers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('sealed', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_travellers_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_travellers')),
    )
    with op.batch_alter_table('travellers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travellers_case_id'), ['case_id'], unique=False)
    op.create_table(
        'trip_legs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('start_zone', sa.String(length=64), nullable=True),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('end_zone', sa.String(length=64), nullable=True),
        sa.Column('on_date', sa.Date(), nullable=True),
        sa.Column('uid', sa.String(length=80), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_trip_legs_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trip_legs')),
        sa.UniqueConstraint('uid', name=op.f('uq_trip_legs_uid')),
    )
    with op.batch_alter_table('trip_legs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trip_legs_case_id'), ['case_id'], unique=False)
    op.create_table(
        'invoices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('payment_reference', sa.String(length=35), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_invoices_case_id_cases')),
        sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_invoices_issued_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
        sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_case_id'), ['case_id'], unique=False)
    op.create_table(
        'payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=300), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('full_name', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('full_name')
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('address')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_invoice_id'))
    op.drop_table('payments')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_case_id'))
    op.drop_table('invoices')
    with op.batch_alter_table('trip_legs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trip_legs_case_id'))
    op.drop_table('trip_legs')
    with op.batch_alter_table('travellers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travellers_case_id'))
    op.drop_table('travellers')
    op.drop_table('exchange_rates')
