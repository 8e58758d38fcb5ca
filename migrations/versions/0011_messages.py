"""the patient-coordinator conversation and reply templates

Revision ID: 0011_messages
Revises: 0010_openers
Create Date: 2026-12-02 23:55:00.000000

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_messages'
down_revision = '0010_openers'
branch_labels = None
depends_on = None


# The starting set of reply templates (admins edit them on /staff/templates). Frozen
# here: a later change of wording is the admins' to make, not a migration's.
SEED = [
    {
        'key': 'missing-xray',
        'title': 'Missing X-ray',
        'kind': 'question',
        'body_en': (
            "Dear {patient_first_name},\n\n"
            "To assess your case for {reference}, the clinics need a recent X-ray of the area to be treated "
            "(taken within the last six months). Could you add it on your status page? A photo of the film "
            "or the PDF from the imaging centre is fine."
        ),
        'body_ru': (
            "Здравствуйте, {patient_first_name}!\n\n"
            "Чтобы клиники могли оценить вашу заявку {reference}, им нужен свежий рентгеновский снимок "
            "области лечения (сделанный не более шести месяцев назад). Пожалуйста, добавьте его на странице "
            "вашей заявки. Подойдёт фотография снимка или PDF-файл из диагностического центра."
        ),
    },
    {
        'key': 'recent-blood-tests',
        'title': 'Recent blood tests',
        'kind': 'question',
        'body_en': (
            "Dear {patient_first_name},\n\n"
            "{clinic} asks for recent blood test results (a complete blood count and a biochemistry panel, "
            "not older than one month) before confirming the treatment plan for {reference}. "
            "Please add them on your status page."
        ),
        'body_ru': (
            "Здравствуйте, {patient_first_name}!\n\n"
            "Прежде чем подтвердить план лечения по заявке {reference}, клиника {clinic} просит свежие "
            "результаты анализов крови (общий анализ и биохимию, не старше одного месяца). "
            "Пожалуйста, добавьте их на странице вашей заявки."
        ),
    },
    {
        'key': 'travel-dates',
        'title': 'Travel dates',
        'kind': 'question',
        'body_en': (
            "Dear {patient_first_name},\n\n"
            "When could you travel for your treatment? Please tell us the dates that suit you "
            "(or a range of weeks) so that we can check availability with {clinic}."
        ),
        'body_ru': (
            "Здравствуйте, {patient_first_name}!\n\n"
            "Когда вы могли бы приехать на лечение? Напишите, пожалуйста, удобные вам даты "
            "(или подходящие недели), чтобы мы уточнили возможности клиники {clinic}."
        ),
    },
    {
        'key': 'passport-copy',
        'title': 'Passport copy',
        'kind': 'question',
        'body_en': (
            "Dear {patient_first_name},\n\n"
            "To prepare your visa support letter and book your treatment ({reference}), we need a copy of "
            "the photo page of your international passport. Please add a clear scan or photo on your "
            "status page; it is shared only with the clinic you chose."
        ),
        'body_ru': (
            "Здравствуйте, {patient_first_name}!\n\n"
            "Чтобы подготовить письмо для визы и забронировать лечение (заявка {reference}), нам нужна "
            "копия страницы заграничного паспорта с фотографией. Пожалуйста, добавьте чёткий скан или "
            "фотографию на странице заявки; мы передадим её только выбранной вами клинике."
        ),
    },
    {
        'key': 'companion',
        'title': 'Travelling companion',
        'kind': 'question',
        'body_en': (
            "Dear {patient_first_name},\n\n"
            "Will someone travel with you? If so, please tell us their full name as in their passport, "
            "so that {clinic} can arrange their stay and we can include them in the visa support letter."
        ),
        'body_ru': (
            "Здравствуйте, {patient_first_name}!\n\n"
            "Поедет ли с вами сопровождающий? Если да, напишите, пожалуйста, его имя и фамилию так, "
            "как они указаны в паспорте, чтобы клиника {clinic} организовала его проживание, а мы "
            "указали его в письме для визы."
        ),
    },
    {
        'key': 'files-received',
        'title': 'Files received',
        'kind': 'reply',
        'body_en': (
            "Dear {patient_first_name},\n\n"
            "Thank you: we have received your files for {reference} and passed them on to the clinics. "
            "We will write to you as soon as they answer."
        ),
        'body_ru': (
            "Здравствуйте, {patient_first_name}!\n\n"
            "Спасибо, мы получили ваши файлы по заявке {reference} и передали их клиникам. "
            "Мы напишем вам, как только они ответят."
        ),
    },
]


def upgrade():
    op.create_table(
        'case_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('author', sa.String(length=120), nullable=False),
        sa.Column('direction', sa.String(length=10), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('automatic', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('email_message_id', sa.String(length=255), nullable=True),
        sa.Column('refused_files', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_messages_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_messages')),
    )
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_messages_case_id'), ['case_id'], unique=False)
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachments_message_id'), ['message_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_attachments_message_id_case_messages'), 'case_messages', ['message_id'], ['id'])
    templates = op.create_table(
        'reply_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('body_en', sa.Text(), nullable=False),
        sa.Column('body_ru', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_templates')),
        sa.UniqueConstraint('key', name=op.f('uq_reply_templates_key')),
    )
    now = datetime.now(timezone.utc)
    op.bulk_insert(templates, [{**row, 'updated_at': now} for row in SEED])


def downgrade():
    op.drop_table('reply_templates')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attachments_message_id_case_messages'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attachments_message_id'))
        batch_op.drop_column('message_id')
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_messages_case_id'))
    op.drop_table('case_messages')
