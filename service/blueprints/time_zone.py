"""The browser's time zone (static/js/time-zone.js): kept in the session, and saved with a
signed-in staff or clinic user's account, so times are shown in it (`service.i18n`)."""
from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user
from werkzeug.wrappers import Response

from service import i18n, problems
from service.accounts import current_staff
from service.extensions import db

bp = Blueprint("time_zone", __name__)


def _same_origin() -> bool:
    """Only this site's pages may report: a JSON body (which another site cannot send
    without a CORS preflight we never answer) from a same-origin fetch."""
    if not request.is_json:
        return False
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


@bp.post("/time-zone")
def remember() -> Response:
    if not _same_origin():
        return problems.problem(403, "Forbidden", "Report the time zone from this site's pages.")
    body = request.get_json(silent=True)
    zone = i18n.remember_zone(body.get("zone") if isinstance(body, dict) else None)
    if zone is None:
        return problems.problem(422, "Unknown time zone", "Send an IANA time zone, like Europe/Berlin.")
    if current_user.is_authenticated and current_staff().time_zone != zone:
        current_staff().time_zone = zone
        db.session.commit()
    return Response(status=204)
