"""The trip's calendar: `GET /s/<token>/trip.ics` behind the patient's status link, and
`GET /s/calendar/<key>/trip.ics`, the link the "travel booked" e-mail carries (a signed
key that opens the calendar only and dies with the status link:
`service.cases.trip_calendar.feed_key`). Served privately like the status pages, in the
case's language. Before anything is booked it is an empty calendar, so a program
subscribed early shows the legs once they are entered. (Also the staff case page's note
on why a case has no visa letters yet, a template global.)"""
from __future__ import annotations

from flask import Blueprint, abort
from werkzeug.wrappers import Response

from service.blueprints import status
from service.cases import paperwork_store, trip_calendar
from service.models import Case

bp = Blueprint("status_calendar", __name__)
bp.after_request(status._private)


def _ics(case: Case) -> Response:
    response = Response(trip_calendar.case_calendar(case), mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{case.reference}-trip.ics"'
    return response


@bp.get("/s/<token>/trip.ics")
def calendar(token: str) -> Response:
    return _ics(status._case_or_404(token))


@bp.get("/s/calendar/<key>/trip.ics")
def feed(key: str) -> Response:
    case = trip_calendar.case_for_feed_key(key)
    if case is None:
        abort(404, "This calendar link is not valid any more. Open your status page for the current one.")
    return _ics(case)


@bp.app_template_global()
def visa_letters_note(case: Case) -> str | None:
    """Why the case has no visa letters yet, for the staff case page (None once they can be made)."""
    return paperwork_store.visa_letter_blocker(case)
