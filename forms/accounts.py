"""Forms of the sign-in pages and the admin users page."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, NumberRange, Optional, Regexp

from service.accounts.passwords import MIN_LENGTH
from service.accounts.roles import ROLES
from service.accounts.users import FULL_NAME_MAX, all_clinics, default_capacity
from service.limits import MAX_COORDINATOR_CAPACITY


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _digits(value: object) -> object:
    """Apps show codes as "123 456"; people paste them that way."""
    return "".join(value.split()) if isinstance(value, str) else value


class LoginForm(FlaskForm):
    email = EmailField(
        "Email address", filters=[_strip],
        validators=[InputRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password."), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class SigninLinkForm(FlaskForm):
    email = EmailField(
        "Email address", filters=[_strip],
        validators=[InputRequired("Enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app", filters=[_digits],
        validators=[InputRequired("Enter the 6-digit code from your authenticator app."),
                    Regexp(r"^\d{6}$", message="The code is 6 digits.")],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )


def _capacity_field() -> IntegerField:
    return IntegerField(
        "Capacity (open cases)", default=default_capacity,
        validators=[InputRequired("Enter a capacity."),
                    NumberRange(0, MAX_COORDINATOR_CAPACITY, f"Capacity must be between 0 and {MAX_COORDINATOR_CAPACITY} open cases.")],
    )


class CreateUserForm(FlaskForm):
    email = EmailField(
        "Email address", filters=[_strip],
        validators=[InputRequired("Enter the email address."), Email("Enter a valid email address."),
                    Length(max=254)],
    )
    full_name = StringField("Full name", filters=[_strip], validators=[
        Length(max=FULL_NAME_MAX, message=f"A name has at most {FULL_NAME_MAX} characters.")])
    role = SelectField("Role", choices=[SelectChoice(role, role.capitalize()) for role in ROLES])
    # Required for the clinic role, refused for the others (`users.check_clinic`).
    clinic = SelectField("Clinic", default="")
    password = PasswordField(
        "Initial password",
        validators=[InputRequired("Enter an initial password."),
                    Length(min=MIN_LENGTH, message=f"A password needs at least {MIN_LENGTH} characters.")],
        render_kw={"autocomplete": "new-password"},
    )
    capacity = _capacity_field()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.clinic.choices = [SelectChoice("", "None (agency staff)")] + [
            SelectChoice(clinic.slug, f"{clinic.name}, {clinic.city}") for clinic in all_clinics()
        ]


class CapacityForm(FlaskForm):
    capacity = _capacity_field()


class FullNameForm(FlaskForm):
    """A staff member's name, as the visa letters they sign as coordinator name them."""

    full_name = StringField("Full name", filters=[_strip], validators=[
        Length(max=FULL_NAME_MAX, message=f"A name has at most {FULL_NAME_MAX} characters.")])



class ResetPasswordForm(FlaskForm):
    """The page a reset link opens: the new password twice and, when the user is to sign
    in with a second factor, a code from the new key (`service.accounts.password_reset`)."""

    password = PasswordField(
        "New password",
        validators=[InputRequired("Enter a new password."),
                    Length(min=MIN_LENGTH, max=1024, message=f"A password needs at least {MIN_LENGTH} characters.")],
        render_kw={"autocomplete": "new-password", "autofocus": True},
    )
    confirm = PasswordField(
        "New password again",
        validators=[InputRequired("Enter the new password again."),
                    EqualTo("password", message="The two passwords are not the same.")],
        render_kw={"autocomplete": "new-password"},
    )
    code = StringField(
        "Code from your authenticator app", filters=[_digits],
        validators=[Optional(), Regexp(r"^\d{6}$", message="The code is 6 digits.")],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
