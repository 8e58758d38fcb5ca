"""The staff triage queue (`/staff/cases`) and its CSV export (`/staff/cases.csv`):
thin shells over `service.cases.worklist`. Filters live in the query string, so the
export is exactly the queue on screen, all pages. Numbered page links carry `page`;
Next and Previous carry a keyset cursor (`after` / `before`), which any other link
(a filter, a tab, a sort, a page number) drops."""
from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import quote

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context, url_for
from sqlalchemy import select

from forms.staff_queue import QueueFilterForm, status_choices
from service import choices
from service.accounts import current_staff, staff_required
from service.accounts.roles import STAFF_ROLES
from service.cases import worklist
from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Clinic, Treatment, User

log = logging.getLogger(__name__)

bp = Blueprint("staff_queue", __name__)


@bp.record_once
def _unicode_search_on_sqlite(state: Any) -> None:
    """Search folds case like PostgreSQL does, on SQLite too (see `worklist.register_sqlite_functions`)."""
    from sqlalchemy import event

    with state.app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda dbapi_connection, _record: worklist.register_sqlite_functions(dbapi_connection))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def case_href(reference: str) -> str:
    """Link to a case file (the case-file blueprint's `staff_case.show`)."""
    if "staff_case.show" in current_app.view_functions:
        return url_for("staff_case.show", reference=reference)
    return "/staff/cases/" + quote(reference)


def _form() -> QueueFilterForm:
    return QueueFilterForm(
        request.args,
        treatments=list(db.session.scalars(select(Treatment).order_by(Treatment.name))),
        clinics=list(db.session.scalars(select(Clinic).order_by(Clinic.name))),
        countries=worklist.countries(db.session),
        staff=list(db.session.scalars(
            select(User).where(User.active.is_(True), User.role.in_(STAFF_ROLES)).order_by(User.email)
        )),
    )


def _args(filters: worklist.QueueFilters, **changes: Any) -> dict[str, Any]:
    """Query-string arguments for `filters` with `changes`, defaults left out."""
    values = {
        "q": filters.search,
        "status": filters.status,
        "treatment": filters.treatment,
        "country": filters.country,
        "clinic": filters.clinic,
        "assignee": filters.assignee,
        "overdue": "y" if filters.overdue else None,
        "sort": filters.sort,
        "page": filters.page,
    }
    values.update(changes)
    defaults = {"status": worklist.OPEN, "sort": "newest", "page": 1}
    return {k: v for k, v in values.items() if v not in (None, "") and defaults.get(k) != v}


def due_words(row: worklist.QueueRow, now: datetime) -> str:
    """The row's next deadline in words for the queue."""
    if row.case.sla_paused_since is not None:
        return "Paused: waiting on the patient"
    if row.next_due is None:
        return "—"
    if row.overdue:
        return f"Overdue by {_span(now - row.next_due)}"
    return f"Due in {_span(row.next_due - now)}"


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours < 1:
        return f"{max(1, int(delta.total_seconds() // 60))} min"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def _cursor_secret() -> str:
    return current_app.config["SECRET_KEY"]


def _cursor(filters: worklist.QueueFilters) -> tuple[worklist.QueueFilters, dict[str, worklist.Position]]:
    """The Next/Previous cursor in the URL (`after` or `before`), as `worklist.page`
    takes it; one that does not read (tampered, malformed, another sort's) gives page 1."""
    for direction in ("after", "before"):
        token = request.args.get(direction)
        if token is not None:
            position = worklist.read_cursor(token, _cursor_secret(), sort=filters.sort)
            if position is None:
                return replace(filters, page=1), {}
            return filters, {direction: position}
    return filters, {}


def _step_links(result: worklist.QueuePage, link: Callable[..., str]) -> tuple[str | None, str | None]:
    """The Previous and Next links: keyset cursors (no growing OFFSET); Previous to the
    first page is the plain first page."""
    previous = following = None
    if result.has_previous and result.first_position is not None:
        if (result.offset or 0) <= result.per_page:
            previous = link(page=None)
        else:
            previous = link(page=None, before=worklist.cursor_token(result.first_position, _cursor_secret()))
    if result.has_next and result.last_position is not None:
        following = link(page=None, after=worklist.cursor_token(result.last_position, _cursor_secret()))
    return previous, following


@bp.get("/staff/cases")
@staff_required()
def index() -> str:
    form = _form()
    filters, cursor = _cursor(form.filters())
    now = _now()
    user = current_staff()
    session = db.session
    result = worklist.page(session, filters, user_id=user.id, now=now, **cursor)
    filters = replace(filters, page=result.page)

    def link(**changes: Any) -> str:
        return url_for("staff_queue.index", **_args(filters, **changes))

    previous_url, next_url = _step_links(result, link)
    counts = worklist.status_counts(session, filters, user_id=user.id, now=now)
    return render_template(
        "staff/queue/index.html",
        form=form,
        filters=filters,
        result=result,
        counts=counts,
        statuses=status_choices(),
        status_labels={s.value: s.staff_label for s in CaseStatus},
        countries=dict(choices.countries()),
        any_cases=result.total > 0 or worklist.any_cases(session),
        filtered=_args(filters, page=None, sort=None) != {},
        link=link,
        previous_url=previous_url,
        next_url=next_url,
        export_url=url_for("staff_queue.export", **_args(filters, page=None)),
        case_href=case_href,
        due_words=lambda row: due_words(row, now),
        now=now,
    )


FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP "CSV injection"):
    text beginning with = + - @ tab or CR gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cells(row: Iterable[Any]) -> list[str]:
    out = []
    for value in row:
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        out.append(spreadsheet_safe(value))
    return out


CSV_CHUNK_ROWS: Final = 200


def csv_lines(rows: Iterable[Iterable[Any]], chunk: int = CSV_CHUNK_ROWS) -> Iterator[str]:
    """The CSV text, `chunk` lines at a time (the header alone first), so memory stays
    flat however many rows and the server is not handed one tiny piece per row; a
    byte-order mark lets Excel read UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(worklist.EXPORT_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    waiting = 0
    for row in rows:
        writer.writerow(_cells(row))
        waiting += 1
        if waiting == chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            waiting = 0
    if waiting:
        yield buffer.getvalue()


@bp.get("/staff/cases.csv")
@staff_required()
def export() -> Response:
    filters = _form().filters()
    now = _now()
    user = current_staff()
    rows = worklist.export_rows(db.session, filters, user_id=user.id, now=now)

    exported = 0

    def counted() -> Iterator[tuple[Any, ...]]:
        nonlocal exported
        for row in rows:
            exported += 1
            yield row

    def generate() -> Iterator[str]:
        yield from csv_lines(counted())
        log.info("%s exported %d case(s) from the queue (%s)", user.email, exported, _args(filters, page=None))

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="medtour-cases-{now:%Y%m%d-%H%M}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
