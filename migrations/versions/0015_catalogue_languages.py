"""the catalogue in the patient's language (per-language texts, helpful files, typical
stay, clinic descriptions), the consent text's version, staff time zones and
admin-issued reset links

Revision ID: 0015_catalogue_languages
Revises: 0014_trip
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015_catalogue_languages'
down_revision = '0014_trip'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('treatments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('helpful_files', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('stay_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=False, server_default='{}'))

    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=False, server_default='{}'))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_version', sa.String(length=20), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reset_nonce_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('reset_nonce_hash')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('consent_version')

    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('translations')
        batch_op.drop_column('description')

    with op.batch_alter_table('treatments', schema=None) as batch_op:
        batch_op.drop_column('translations')
        batch_op.drop_column('stay_days')
        batch_op.drop_column('helpful_files')
