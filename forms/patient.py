"""Erasing their data, from the status page: the patient types the reference, so it
cannot be done by a slip of the finger. (The page's other decisions, choosing,
accepting a revision and withdrawing, are plain POSTs: CSRFProtect checks them all.)"""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError

from service.i18n import gettext, lazy_gettext


class EraseForm(FlaskForm):
    reference = StringField(
        lazy_gettext("Type your reference to confirm"),
        description=lazy_gettext("Your reference is at the top of this page, for example MT-2026-000123."),
    )

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def validate_reference(self, field: StringField) -> None:
        typed = (field.data or "").strip().upper()
        if not typed:
            raise ValidationError(gettext("Type your reference to confirm that your data should be erased."))
        if typed != self.expected.upper():
            raise ValidationError(gettext(
                "That is not this request's reference; type %(reference)s exactly to confirm.",
                reference=self.expected,
            ))
