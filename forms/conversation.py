"""The conversation's forms: the patient's message (text and files, the files through
the same checks and per-case limit as everywhere else) and the coordinator's reply."""
from __future__ import annotations

from typing import Final

from flask_babel.speaklater import LazyString
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from forms.files import FileBatchMixin, picked_files
from service.i18n import format_integer, gettext, lazy_gettext
from service.limits import MESSAGE_MAX_CHARS

# What a forward passes on to the clinic.
BOTH: Final = "both"
TEXT_ONLY: Final = "text"
FILES_ONLY: Final = "files"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class MessageForm(FileBatchMixin, FlaskForm):
    """`POST /s/<token>/messages`: `body` and `files`; text, files or both."""

    body = TextAreaField(
        lazy_gettext("Your message"),
        filters=[_strip],
        validators=[Length(max=MESSAGE_MAX_CHARS, message=LazyString(lambda: gettext(
            "Keep your message under %(max)s characters.", max=format_integer(MESSAGE_MAX_CHARS),
        )))],
    )
    files = MultipleFileField(lazy_gettext("Files (optional)"))

    def validate_body(self, field: TextAreaField) -> None:
        if not field.data and not picked_files(self.files.data):
            field.errors.append(gettext("Write a message or choose a file to send."))


class StaffMessageForm(FlaskForm):
    """The case file's reply: `intent` is the button pressed. "template" puts the picked
    template, filled, into `body`; "preview" fills the placeholders and shows the text as
    the patient will read it; "send" sends `body` as it is. Picking a template needs no
    text yet, so the view checks the body for the other two (`missing_body`)."""

    body = TextAreaField("Message to the patient", filters=[_strip], validators=[
        Length(max=MESSAGE_MAX_CHARS, message=f"Keep the message under {MESSAGE_MAX_CHARS:,} characters."),
    ])
    # The choices are the case file's (its read model lists the templates and referrals);
    # the view looks the picked ones up and ignores any that are not this case's.
    template = StringField("Template")
    clinic = IntegerField("Clinic for {clinic}", validators=[Optional()])
    intent = StringField()

    def missing_body(self) -> bool:
        if self.body.data:
            return False
        self.body.errors = [*self.body.errors, "Write the message first."]
        return True


class ForwardForm(FlaskForm):
    """Forward one patient message to one referral: its text, its files, or both (the
    default, also when the message has only one of them)."""

    referral_id = IntegerField(validators=[InputRequired("Choose the clinic to forward to.")])
    parts = SelectField("What to forward", default=BOTH, choices=[
        (BOTH, "Text and files"), (TEXT_ONLY, "Text only"), (FILES_ONLY, "Files only"),
    ], validate_choice=False, validators=[AnyOf(
        (BOTH, TEXT_ONLY, FILES_ONLY), message="What to forward: choose the text, the files or both.",
    )])

    @property
    def text(self) -> bool:
        return self.parts.data in (BOTH, TEXT_ONLY)

    @property
    def files(self) -> bool:
        return self.parts.data in (BOTH, FILES_ONLY)
