"""The patient's answer to a coordinator's question: text, and optionally more files
within the same per-case limit as everywhere else."""
from __future__ import annotations

from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from forms.files import FileBatchMixin
from service.limits import ANSWER_MAX_CHARS
from service.i18n import format_integer, gettext, lazy_gettext


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class AnswerForm(FileBatchMixin, FlaskForm):
    answer = TextAreaField(
        lazy_gettext("Your answer"),
        filters=[_strip],
        validators=[
            DataRequired(lazy_gettext("Write your answer to the question.")),
            Length(max=ANSWER_MAX_CHARS, message=LazyString(lambda: gettext(
                "Keep your answer under %(max)s characters.", max=format_integer(ANSWER_MAX_CHARS),
            ))),
        ],
    )
    files = MultipleFileField(lazy_gettext("Files (optional)"))
