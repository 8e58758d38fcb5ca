"""The staff dashboard (`/staff/dashboard`): figures over a date range, as charts
drawn on the server with a table beside each."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, render_template, request, url_for

from service.accounts import staff_required
from service.dashboard import metrics, panels
from service.dashboard.period import DEFAULT_DAYS, PRESETS, Period, last_days, parse_period
from service.extensions import db
from service.limits import MAX_DASHBOARD_DAYS

bp = Blueprint("staff_dashboard", __name__, url_prefix="/staff")


def _url(period: Period) -> str:
    return url_for("staff_dashboard.index", **{"from": period.start.isoformat(), "to": period.end.isoformat()})


@bp.get("/dashboard")
@staff_required()
def index() -> tuple[str, int]:
    today = datetime.now(timezone.utc).date()
    period, errors = parse_period(request.args, today)
    page = panels.build(metrics.collect(db.session, period))
    typed = {name: request.args.get(name, getattr(period, attr).isoformat()) for name, attr in (("from", "start"), ("to", "end"))}
    return render_template(
        "staff/dashboard/index.html",
        period=period, errors=errors, typed=typed, page=page, max_days=MAX_DASHBOARD_DAYS, default_days=DEFAULT_DAYS,
        presets=[(f"Last {days} days", _url(last_days(days, today))) for days in PRESETS],
    ), 422 if errors else 200
