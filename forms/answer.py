"""The patient's answer to a coordinator's question: text, and optionally more files
within the same per-case limit as everywhere else."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from forms.files import FileBatchMixin
from service.cases.workflow import ANSWER_MAX_CHARS


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class AnswerForm(FileBatchMixin, FlaskForm):
    answer = TextAreaField(
        "Your answer",
        filters=[_strip],
        validators=[
            DataRequired("Write your answer to the question."),
            Length(max=ANSWER_MAX_CHARS, message=f"Keep your answer under {ANSWER_MAX_CHARS:,} characters."),
        ],
    )
    files = MultipleFileField("Files (optional)")

    def __init__(self, *args: Any, already_attached: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.already_attached = already_attached
        self.accepted_files = []
        self.file_problems = []
