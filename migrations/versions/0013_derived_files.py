"""previews and de-identified clinic copies beside each attachment

Revision ID: 0013_derived_files
Revises: 0012_referral_clock
Create Date: 2026-12-03 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_derived_files'
down_revision = '0012_referral_clock'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'derived_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('attachment_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=20), nullable=False),
        sa.Column('part', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('storage_key', sa.String(length=200), nullable=True),
        sa.Column('content_type', sa.String(length=100), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('removed', sa.JSON(), nullable=False),
        sa.Column('flags', sa.JSON(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('tool', sa.String(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], name=op.f('fk_derived_files_attachment_id_attachments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_derived_files')),
        sa.UniqueConstraint('attachment_id', 'purpose', 'part', name='uq_derived_files_purpose'),
        sa.UniqueConstraint('storage_key', name=op.f('uq_derived_files_storage_key')),
    )
    with op.batch_alter_table('derived_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_derived_files_attachment_id'), ['attachment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('derived_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_derived_files_attachment_id'))
    op.drop_table('derived_files')
