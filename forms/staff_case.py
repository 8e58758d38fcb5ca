"""The case file's action forms: one per `workflow` action, each carrying the case
version the coordinator saw. The forms only parse input; whether an action is allowed,
and what makes its input acceptable, is decided by `service.cases.workflow`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from service.cases.workflow import CLOSE_REASONS, PRIORITIES
from service.limits import MAX_TOP_N
from service.models import Clinic, Treatment, User

MANUAL = "manual"
SUGGESTIONS = "suggestions"


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class ActionForm(FlaskForm):
    """What every action posts: the version of the case the page showed."""

    version = IntegerField(
        widget=HiddenInput(), validators=[InputRequired("The form has no case version; reload the case.")]
    )

    def params(self) -> dict[str, Any]:
        """Keyword arguments for `workflow.perform`."""
        return {}


class AssignForm(ActionForm):
    assignee = SelectField("Assign to", validators=[Optional()])

    def __init__(self, *args: Any, coordinators: Sequence[User] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._users = {str(u.id): u for u in coordinators}
        self.assignee.choices = [("", "Nobody (unassign)")] + [(key, u.email) for key, u in self._users.items()]

    def params(self) -> dict[str, Any]:
        return {"assignee": self._users.get(self.assignee.data or "")}


class PriorityForm(ActionForm):
    priority = SelectField("Priority", choices=[SelectChoice(p, p.capitalize()) for p in PRIORITIES])

    def params(self) -> dict[str, Any]:
        return {"priority": self.priority.data}


class TreatmentForm(ActionForm):
    treatment = SelectField("Treatment")

    def __init__(self, *args: Any, treatments: Sequence[Treatment] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.treatment.choices = [(t.slug, t.name) for t in treatments]

    def params(self) -> dict[str, Any]:
        return {"treatment_slug": self.treatment.data}


class QuestionForm(ActionForm):
    question = TextAreaField("Question for the patient", filters=[_strip])

    def params(self) -> dict[str, Any]:
        return {"question": self.question.data or ""}


class RouteForm(ActionForm):
    """Either the top N suggestions, or the clinics ticked by hand."""

    mode = HiddenField(default=SUGGESTIONS)
    top_n = IntegerField(
        "Number of clinics", validators=[Optional(), NumberRange(1, MAX_TOP_N)],
    )
    clinics = SelectMultipleField("Clinics", widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())

    def __init__(self, *args: Any, clinics: Sequence[Clinic] = (), top_n: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinics.choices = [(c.slug, c.name) for c in clinics]
        if self.top_n.data is None:
            self.top_n.data = top_n
        self._default_top_n = top_n

    def params(self) -> dict[str, Any]:
        if self.mode.data == MANUAL:
            return {"clinic_slugs": list(self.clinics.data or [])}
        return {"top_n": self.top_n.data or self._default_top_n}


class NoParamsForm(ActionForm):
    """Regenerate paperwork, reopen: nothing to say but the version."""


class ReferralForm(ActionForm):
    """Release contact, record the choice: which accepted referral."""

    referral_id = IntegerField(widget=HiddenInput(), validators=[InputRequired("Pick a referral.")])

    def params(self) -> dict[str, Any]:
        return {"referral_id": self.referral_id.data}


class ReleaseContactForm(ReferralForm):
    """Release the patient's contact details to one clinic: to a clinic the patient did
    not choose only with the override ticked and a reason (the workflow checks both)."""

    override = BooleanField("Release anyway: the patient did not choose this clinic")
    reason = TextAreaField("Reason for releasing to this clinic", filters=[_strip])

    def params(self) -> dict[str, Any]:
        return {"referral_id": self.referral_id.data, "override": bool(self.override.data),
                "reason": self.reason.data or ""}


class CloseForm(ActionForm):
    # No reason preselected: closing "booked" by accident would skew the figures.
    reason = SelectField(
        "Reason",
        choices=[SelectChoice("", "Choose a reason…"), *(SelectChoice(key, label) for key, label in CLOSE_REASONS.items())],
    )

    def params(self) -> dict[str, Any]:
        return {"reason": self.reason.data}


class NoteForm(ActionForm):
    body = TextAreaField("Internal note (staff only)", filters=[_strip])

    def params(self) -> dict[str, Any]:
        return {"body": self.body.data or ""}


FORMS: dict[str, type[ActionForm]] = {
    "assign": AssignForm,
    "set_priority": PriorityForm,
    "correct_treatment": TreatmentForm,
    "request_info": QuestionForm,
    "route": RouteForm,
    "regenerate_paperwork": NoParamsForm,
    "release_contact": ReleaseContactForm,
    "record_choice": ReferralForm,
    "close": CloseForm,
    "reopen": NoParamsForm,
    "add_note": NoteForm,
    "book_travel": NoParamsForm,
    "start_treatment": NoParamsForm,
    "mark_returned": NoParamsForm,
}
