"""An admin's reply template: a key, a title, its kind and its text in both languages."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

from service.limits import MESSAGE_MAX_CHARS
from service.models.message import TemplateKind

KEY_HINT = "lower-case letters, digits and hyphens, e.g. missing-xray"


class TemplateForm(FlaskForm):
    key = StringField("Key", filters=[lambda v: v.strip() if isinstance(v, str) else v], validators=[
        DataRequired("Key: enter a key."), Length(max=60, message="Key: at most 60 characters."),
        Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message=f"Key: use {KEY_HINT}."),
    ])
    title = StringField("Title", validators=[DataRequired("Title: enter a title."),
                                             Length(max=120, message="Title: at most 120 characters.")])
    kind = SelectField(
        "Kind", choices=[(TemplateKind.QUESTION.value, "Question"), (TemplateKind.REPLY.value, "Reply")],
        validate_choice=False,
        validators=[AnyOf([k.value for k in TemplateKind], message="Kind: choose question or reply.")],
    )
    body_en = TextAreaField("English text", validators=[
        DataRequired("English text: write the text."),
        Length(max=MESSAGE_MAX_CHARS, message=f"English text: at most {MESSAGE_MAX_CHARS:,} characters."),
    ])
    body_ru = TextAreaField("Russian text", validators=[
        DataRequired("Russian text: write the text."),
        Length(max=MESSAGE_MAX_CHARS, message=f"Russian text: at most {MESSAGE_MAX_CHARS:,} characters."),
    ])
