"""The triage queue's filter form (a GET form: filters live in the URL, so a filtered
queue can be bookmarked, shared with a colleague and exported as it is)."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SearchField, SelectField, ValidationError
from wtforms.validators import Length, NumberRange, Optional

from service import choices
from service.cases import worklist
from service.cases.status import CaseStatus
from service.models import Clinic, Treatment, User


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def status_choices() -> list[tuple[str, str]]:
    """The status tabs, in the order a case moves through them."""
    return [(worklist.OPEN, "Open"), *((s.value, s.staff_label) for s in CaseStatus), (worklist.ALL, "All")]


class QueueFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    q = SearchField(
        "Search",
        description="Reference, patient name or email",
        filters=[_strip],
        validators=[Optional(), Length(max=200, message="Search for at most 200 characters.")],
    )
    status = HiddenField("Status", default=worklist.OPEN)
    treatment = SelectField("Treatment", default="")
    country = SelectField("Patient's country", default="")
    clinic = SelectField("Referred to", default="")
    assignee = SelectField("Assignee", default="")
    overdue = BooleanField("Overdue only")
    sort = SelectField("Sort", default="newest")
    page = IntegerField("Page", default=1, validators=[Optional(), NumberRange(min=1)])

    def __init__(
        self,
        formdata: Any,
        *,
        treatments: list[Treatment],
        clinics: list[Clinic],
        countries: list[str],
        staff: list[User],
        **kwargs: Any,
    ) -> None:
        super().__init__(formdata, **kwargs)
        self.treatment.choices = [("", "Any treatment")] + [(t.slug, t.name) for t in treatments]
        names = dict(choices.countries())
        self.country.choices = [("", "Any country")] + sorted(
            ((code, names.get(code, code)) for code in countries), key=lambda c: c[1]
        )
        self.clinic.choices = [("", "Any clinic")] + [(c.slug, f"{c.name} ({c.city})") for c in clinics]
        self.sort.choices = list(worklist.SORTS.items())
        self.assignee.choices = [
            ("", "Anyone"),
            (worklist.MINE, "Assigned to me"),
            (worklist.UNASSIGNED, "Unassigned"),
        ] + [(str(u.id), u.email) for u in staff]

    def validate_status(self, field: HiddenField) -> None:
        if field.data and field.data not in dict(status_choices()):
            raise ValidationError("Not a known status.")

    def filters(self) -> worklist.QueueFilters:
        """The filters asked for; a field that did not validate is left out (the page
        shows its message) rather than failing the whole queue."""
        self.validate()
        ok = {name for name, field in self._fields.items() if not field.errors}

        def value(name: str) -> Any:
            data = self._fields[name].data
            return data if name in ok and data not in ("", None) else None

        return worklist.QueueFilters(
            status=value("status") or worklist.OPEN,
            treatment=value("treatment"),
            country=value("country"),
            clinic=value("clinic"),
            assignee=value("assignee"),
            overdue=bool(value("overdue")),
            search=value("q") or "",
            sort=value("sort") or "newest",
            page=value("page") or 1,
        )
