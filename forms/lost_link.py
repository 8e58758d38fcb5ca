"""The "I lost my link" form (/s/lost): the patient's e-mail address, nothing else."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import Email, InputRequired, Length

from service.i18n import lazy_gettext
from service.limits import EMAIL_MAX


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class LostLinkForm(FlaskForm):
    email = EmailField(
        lazy_gettext("Your e-mail address"),
        filters=[_strip],
        description=lazy_gettext("The address you gave in your request."),
        validators=[
            InputRequired(lazy_gettext("Enter your email address.")),
            Email(lazy_gettext("Enter a valid email address, like name@example.com."), check_deliverability=False),
            Length(max=EMAIL_MAX),
        ],
        render_kw={"autocomplete": "email"},
    )
