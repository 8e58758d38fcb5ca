"""The staff triage queue as plain query functions: filters, search, sort, pagination
and counts per status, all in SQL (the overdue filter and the "due soonest" sort read
the stored, indexed deadline `cases.sla_due_at`, so filtering and paging stay exact on
any page). A page in the second half is read from the far end in the reverse order, so
the offset never exceeds half the rows and the last page needs none. The view and the
CSV export are thin shells over these."""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, case as sql_case, exists, func, or_, select
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql.elements import ColumnElement

from service.cases import sla
from service.cases.status import CaseStatus, ReferralStatus
from service.cases.workflow import PRIORITIES
from service.models import Case, Clinic, Referral, Treatment, User

PER_PAGE: Final = 25

# Status filter values beyond the statuses themselves.
OPEN: Final = "open"
ALL: Final = "all"

# Assignee filter values beyond a user id.
MINE: Final = "mine"
UNASSIGNED: Final = "unassigned"

SORTS: Final[dict[str, str]] = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "priority": "Priority (urgent first)",
    "due": "Due soonest",
}


@dataclass(frozen=True)
class QueueFilters:
    """What the coordinator asked for; every field is optional (the defaults show the
    open cases, newest first)."""

    status: str = OPEN
    treatment: str | None = None  # treatment slug
    country: str | None = None  # the patient's country (ISO 3166-1 alpha-2)
    clinic: str | None = None  # clinic slug: cases referred to that clinic
    assignee: str | None = None  # MINE, UNASSIGNED or a user id
    overdue: bool = False
    search: str = ""
    sort: str = "newest"
    page: int = 1

    def without_status(self) -> QueueFilters:
        return replace(self, status=ALL)


@dataclass(frozen=True)
class QueueRow:
    case: Case
    overdue: bool
    next_due: datetime | None
    # Clinics whose answer clock ran out (`Referral.overdue_at`) and that still owe an answer.
    overdue_clinics: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)

    def page_numbers(self, around: int = 2) -> list[int | None]:
        """Page links to show: first, last and a window around the current page;
        None marks a gap."""
        wanted = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in wanted if 1 <= n <= self.pages)
        shown: list[int | None] = []
        for n in numbers:
            if shown and n - (shown[-1] or 0) > 1:
                shown.append(None)
            shown.append(n)
        return shown


@dataclass(frozen=True)
class StatusCounts:
    """Cases per status under the other filters, for the status tabs."""

    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def all(self) -> int:
        return sum(self.by_status.values())

    @property
    def open(self) -> int:
        return self.all - self.by_status.get(CaseStatus.CLOSED, 0)

    def count(self, status: str) -> int:
        if status == ALL:
            return self.all
        if status == OPEN:
            return self.open
        return self.by_status.get(status, 0)


def fold(text: str) -> str:
    """Case-folding for search, matching SQL lower() (Unicode-aware on both databases:
    see `register_sqlite_functions`)."""
    return text.lower()


def _search(term: str) -> ColumnElement[bool]:
    needle = fold(term.strip())
    return or_(*(
        func.lower(column).contains(needle, autoescape=True)
        for column in (Case.reference, Case.full_name, Case.email)
    ))


def conditions(filters: QueueFilters, *, user_id: int, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses for `filters`; `user_id` is who "mine" means."""
    where: list[ColumnElement[bool]] = []
    if filters.status == OPEN:
        # The open statuses named (not "not closed"), so the status index finds them.
        where.append(Case.status.in_(sorted(s.value for s in CaseStatus if s != CaseStatus.CLOSED)))
    elif filters.status != ALL:
        where.append(Case.status == filters.status)
    if filters.treatment:
        where.append(Case.treatment_id.in_(select(Treatment.id).where(Treatment.slug == filters.treatment)))
    if filters.country:
        where.append(Case.country == filters.country)
    if filters.clinic:
        where.append(exists(
            select(Referral.id).join(Clinic, Clinic.id == Referral.clinic_id)
            .where(Referral.case_id == Case.id, Clinic.slug == filters.clinic)
        ))
    if filters.assignee == MINE:
        where.append(Case.assignee_id == user_id)
    elif filters.assignee == UNASSIGNED:
        where.append(Case.assignee_id.is_(None))
    elif filters.assignee:
        where.append(Case.assignee_id == int(filters.assignee))
    if filters.overdue:
        where.append(sla.overdue_clause(now))
    if filters.search.strip():
        where.append(_search(filters.search))
    return where


def _priority_rank() -> ColumnElement[int]:
    return sql_case({p: i for i, p in enumerate(PRIORITIES)}, value=Case.priority, else_=PRIORITIES.index("normal"))


# A sort: (expression, descending) pairs ending with the id, so the order is total;
# NULLs (no clock running) sort after every deadline.
_Keys = list[tuple[ColumnElement[Any], bool]]


def _keys(sort: str, now: datetime) -> _Keys:
    if sort == "oldest":
        return [(Case.created_at, False), (Case.id, False)]
    if sort == "priority":
        return [(_priority_rank(), True), (Case.created_at, False), (Case.id, False)]
    if sort == "due":
        return [(sla.due_sort_key(now), False), (Case.id, False)]
    return [(Case.created_at, True), (Case.id, True)]


def _order(sort: str, now: datetime, *, reverse: bool = False) -> list[ColumnElement[Any]]:
    """ORDER BY for `sort`, or its exact reverse (NULLs first instead of last)."""
    order = []
    for column, descending in _keys(sort, now):
        if descending != reverse:
            order.append(column.desc().nulls_first())
        else:
            order.append(column.asc().nulls_last())
    return order


def query(filters: QueueFilters, *, user_id: int, now: datetime, reverse: bool = False) -> Select[Any]:
    """The filtered cases in the queue's order (or its reverse)."""
    return (
        select(Case)
        .join(Case.treatment)
        .outerjoin(Case.assignee)
        .options(contains_eager(Case.treatment), contains_eager(Case.assignee))
        .where(*conditions(filters, user_id=user_id, now=now))
        .order_by(*_order(filters.sort, now, reverse=reverse))
    )


def count(session: Session, filters: QueueFilters, *, user_id: int, now: datetime) -> int:
    # count(*), not count(id): the status index alone can answer it (an index-only scan).
    stmt = select(func.count()).select_from(Case).where(*conditions(filters, user_id=user_id, now=now))
    return session.scalar(stmt) or 0


def page(session: Session, filters: QueueFilters, *, user_id: int, now: datetime, per_page: int = PER_PAGE) -> QueuePage:
    """One page of the queue; a page past the end shows the last page."""
    total = count(session, filters, user_id=user_id, now=now)
    pages = max(1, math.ceil(total / per_page))
    number = min(max(1, filters.page), pages)
    start, end = (number - 1) * per_page, min(number * per_page, total)
    if start >= total - end:
        stmt = query(filters, user_id=user_id, now=now, reverse=True).limit(end - start).offset(total - end)
        found = list(session.scalars(stmt))[::-1]
    else:
        found = list(session.scalars(query(filters, user_id=user_id, now=now).limit(per_page).offset(start)))
    late = overdue_clinics(session, [case.id for case in found])
    rows = []
    for case in found:
        due = sla.due_at(case, now)
        rows.append(QueueRow(case=case, overdue=due is not None and due < now, next_due=due,
                             overdue_clinics=late.get(case.id, ())))
    return QueuePage(rows=rows, total=total, page=number, per_page=per_page)


def overdue_clinics(session: Session, case_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Per case, the names of the clinics marked overdue that have not answered yet."""
    if not case_ids:
        return {}
    late: dict[int, tuple[str, ...]] = {}
    for case_id, name in session.execute(
        select(Referral.case_id, Clinic.name).join(Clinic, Clinic.id == Referral.clinic_id)
        .where(Referral.case_id.in_(case_ids), Referral.overdue_at.is_not(None),
               Referral.status == ReferralStatus.PENDING.value)
        .order_by(Referral.case_id, Referral.overdue_at, Referral.id)
    ):
        late[case_id] = (*late.get(case_id, ()), name)
    return late


def status_counts(session: Session, filters: QueueFilters, *, user_id: int, now: datetime) -> StatusCounts:
    """Cases per status under every filter but the status one (the tabs keep the rest)."""
    stmt = (
        select(Case.status, func.count())
        .select_from(Case)
        .where(*conditions(filters.without_status(), user_id=user_id, now=now))
        .group_by(Case.status)
    )
    return StatusCounts({status: n for status, n in session.execute(stmt)})


def countries(session: Session) -> list[str]:
    """The patients' countries that occur, for the country filter: a "loose index scan"
    (each next country is one probe of the country index), so as many probes as
    countries rather than a read of every case."""
    found = select(func.min(Case.country).label("country")).cte("countries", recursive=True)
    following = select(func.min(Case.country)).where(Case.country > found.c.country).scalar_subquery()
    found = found.union_all(select(following).where(found.c.country.is_not(None)))
    return list(session.scalars(select(found.c.country).where(found.c.country.is_not(None))))


def any_cases(session: Session) -> bool:
    return session.scalar(select(exists().where(Case.id.is_not(None)))) or False


EXPORT_COLUMNS: Final = (
    "reference", "status", "priority", "created_at", "treatment", "country",
    "assignee", "overdue", "patient name", "email",
)


def export_rows(session: Session, filters: QueueFilters, *, user_id: int, now: datetime, batch: int = 500) -> Iterator[tuple[Any, ...]]:
    """Every row of the filtered queue (all pages, in the queue's order), as plain
    values in `EXPORT_COLUMNS` order, fetched `batch` rows at a time."""
    stmt = (
        select(
            Case.reference, Case.status, Case.priority, Case.created_at, Treatment.slug, Case.country,
            User.email, sla.overdue_clause(now), Case.full_name, Case.email,
        )
        .join(Treatment, Treatment.id == Case.treatment_id)
        .outerjoin(User, User.id == Case.assignee_id)
        .where(*conditions(filters, user_id=user_id, now=now))
        .order_by(*_order(filters.sort, now))
        .execution_options(yield_per=batch)
    )
    for reference, status, priority, created_at, treatment, country, assignee, overdue, name, email in session.execute(stmt):
        yield reference, status, priority, created_at, treatment, country, assignee, bool(overdue), name, email


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """SQLite's own lower() folds ASCII only; patients' names are often Cyrillic.
    Replace it with Python's on each SQLite connection (PostgreSQL's is Unicode-aware)."""
    dbapi_connection.create_function("lower", 1, lambda s: fold(s) if isinstance(s, str) else s, deterministic=True)
