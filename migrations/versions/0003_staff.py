"""staff console: users, questions, case assignment, SLA clock, version

Revision ID: 0003_staff
Revises: 0002_back_office
Create Date: 2026-11-25 10:57:23.033640

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_staff'
down_revision = '0002_back_office'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('totp_secret', sa.String(length=64), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('patient_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('asked_by_id', sa.Integer(), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('resume_status', sa.String(length=32), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['asked_by_id'], ['users.id'], name=op.f('fk_patient_questions_asked_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_patient_questions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_questions'))
    )
    with op.batch_alter_table('patient_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_questions_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.String(length=10), nullable=False, server_default='normal'))
        batch_op.add_column(sa.Column('closed_reason', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_seconds', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.create_index(batch_op.f('ix_cases_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cases_assignee_id_users'), 'users', ['assignee_id'], ['id'])

    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_released_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_column('contact_released_at')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_assignee_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_assignee_id'))
        batch_op.drop_column('version')
        batch_op.drop_column('sla_paused_seconds')
        batch_op.drop_column('sla_paused_since')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('closed_reason')
        batch_op.drop_column('priority')
        batch_op.drop_column('assignee_id')

    with op.batch_alter_table('patient_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_questions_case_id'))

    op.drop_table('patient_questions')
    op.drop_table('users')
