"""Erasing their data, from the status page: the patient types the reference, so it
cannot be done by a slip of the finger. (The page's other decisions, choosing,
accepting a revision and withdrawing, are plain POSTs: CSRFProtect checks them all.)"""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import ValidationError


class EraseForm(FlaskForm):
    reference = StringField(
        "Type your reference to confirm",
        description="Your reference is at the top of this page, for example MT-2026-000123.",
    )

    def __init__(self, *args: Any, expected: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected = expected

    def validate_reference(self, field: StringField) -> None:
        typed = (field.data or "").strip().upper()
        if not typed:
            raise ValidationError("Type your reference to confirm that your data should be erased.")
        if typed != self.expected.upper():
            raise ValidationError(
                f"That is not this request's reference; type {self.expected} exactly to confirm."
            )
