"""The admin's switches for one clinic on the catalogue page."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from service.limits import MAX_CLINIC_CAPACITY


class ClinicIntakeForm(FlaskForm):
    accepting = BooleanField("Takes new referrals")
    capacity = IntegerField(
        "Capacity (open referrals)",
        validators=[InputRequired("Enter a capacity."),
                    NumberRange(0, MAX_CLINIC_CAPACITY,
                                f"Capacity must be between 0 and {MAX_CLINIC_CAPACITY} open referrals.")],
    )
