"""The staff triage queue as plain query functions: filters, search, sort, pagination
and counts per status, all in SQL (the overdue filter and the "due soonest" sort read
the stored, indexed deadline `cases.sla_due_at`, so filtering and paging stay exact on
any page). The view and the CSV export are thin shells over these.

Two ways to a page. By number (`QueueFilters.page`, the numbered links): LIMIT/OFFSET,
a page in the second half read from the far end in the reverse order, so the offset
never exceeds half the rows and the first and last pages need none. By keyset (the
Next and Previous links, `page(after=...)` / `page(before=...)`): the rows past a
`Position` (the sort keys of the row shown last or first) found with a comparison on
those keys and LIMIT per_page + 1, no OFFSET at all: no rows are fetched, joined and
thrown away however deep the page, and the page's place is counted instead
(`position_count`). A position travels in the URL as a signed, URL-safe cursor
(`cursor_token` / `read_cursor`): one that was tampered with, is malformed or belongs to
another sort reads as None, and the view shows page 1."""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Final, NamedTuple

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Float, Select, and_, exists, false, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql.elements import ColumnElement

from service.cases import sla
from service.cases.status import CaseStatus, ReferralStatus
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
class Position:
    """Where one row stands in a sort: the sort's name, the time its order was taken at
    (the due sort moves with the clock while a case is paused, so the next page is
    compared and ordered as of the same time as the page before it) and the row's
    sort-key values, in `_keys` order (the last one is the case id)."""

    sort: str
    as_of: datetime
    values: tuple[Any, ...]


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int = PER_PAGE
    # Rows before the first one shown; by default where page `page` starts.
    offset: int | None = None
    has_previous: bool | None = None
    has_next: bool | None = None
    # The first and last rows' positions, for the Previous and Next cursors.
    first_position: Position | None = None
    last_position: Position | None = None

    def __post_init__(self) -> None:
        if self.offset is None:
            object.__setattr__(self, "offset", (self.page - 1) * self.per_page)
        if self.has_previous is None:
            object.__setattr__(self, "has_previous", self.page > 1)
        if self.has_next is None:
            object.__setattr__(self, "has_next", self.page < self.pages)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first_index(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.offset or 0) + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.offset or 0) + len(self.rows)

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


class SortKey(NamedTuple):
    """One term of a sort. NULL (a nullable key only: no clock running) counts as
    greater than every value, so it sorts last ascending and first descending, and
    the reverse order is the exact mirror."""

    column: ColumnElement[Any]
    descending: bool
    nullable: bool = False
    indexed: bool = False  # a column with an index of its own (a keyset bound can range-scan it)


def _keys(sort: str, now: datetime) -> list[SortKey]:
    """The sort's terms, ending with the id so the order is total (a keyset needs it)."""
    if sort == "oldest":
        return [SortKey(Case.created_at, False, indexed=True), SortKey(Case.id, False)]
    if sort == "priority":
        # Urgent first (rank 0: service.models.priority), then oldest first: all three
        # ascending, one index, so a keyset bound is a single range of it (and the count
        # before a position that range's length); no split on the first key needed.
        return [SortKey(Case.priority_rank, False), SortKey(Case.created_at, False), SortKey(Case.id, False)]
    if sort == "due":
        return [SortKey(sla.due_sort_key(now), False, nullable=True), SortKey(Case.id, False)]
    return [SortKey(Case.created_at, True, indexed=True), SortKey(Case.id, True)]


def _order(sort: str, now: datetime, *, reverse: bool = False) -> list[ColumnElement[Any]]:
    """ORDER BY for `sort`, or its exact reverse (NULLs first instead of last). NULLS
    FIRST/LAST only on a nullable key: SQLite's default is the other way round, and an
    explicit one there would keep it from reading an index in order."""
    order = []
    for column, descending, nullable, _ in _keys(sort, now):
        if descending != reverse:
            order.append(column.desc().nulls_first() if nullable else column.desc())
        else:
            order.append(column.asc().nulls_last() if nullable else column.asc())
    return order


def query(filters: QueueFilters, *, user_id: int, now: datetime, reverse: bool = False,
          as_of: datetime | None = None) -> Select[Any]:
    """The filtered cases in the queue's order (or its reverse), each row followed by its
    sort-key values as the database computed them (what a cursor carries: the due key is
    a float, compared again for equality, so it must not be recomputed in Python). The
    filters are evaluated at `now`, the order at `as_of` (by default `now` too)."""
    order_now = as_of or now
    return (
        select(Case, *(key.column for key in _keys(filters.sort, order_now)))
        .join(Case.treatment)
        .outerjoin(Case.assignee)
        .options(contains_eager(Case.treatment), contains_eager(Case.assignee))
        .where(*conditions(filters, user_id=user_id, now=now))
        .order_by(*_order(filters.sort, order_now, reverse=reverse))
    )


# ---------------------------------------------------------------- keyset comparisons
#
# When every term of a sort runs the same way (all four sorts do) the bound is a
# row-value comparison, `(k1, id) > (v1, x)`, which PostgreSQL and SQLite both have and
# which evaluates each key once per row (the due key is an expression, not a column); on
# the keys of one index, (priority_rank, created_at, id), it is that index's range. A
# nullable key is compared as `coalesce(key, +infinity)`, NULL being greater than every
# value; a sort mixing directions, which one row value cannot say, is refused. A
# redundant leading `k1 >= v1` on an indexed first key lets the planner range-scan that
# index.


def _towards_greater(key: SortKey, forward: bool) -> bool:
    return forward != key.descending


def _strictly_past(key: SortKey, value: Any, forward: bool) -> ColumnElement[bool]:
    if _towards_greater(key, forward):
        if value is None:
            return false()
        return or_(key.column > value, key.column.is_(None)) if key.nullable else key.column > value
    if value is None:
        return key.column.is_not(None)
    return key.column < value


def _at_or_past(key: SortKey, value: Any, forward: bool) -> ColumnElement[bool]:
    if _towards_greater(key, forward):
        if value is None:
            return key.column.is_(None)
        return or_(key.column >= value, key.column.is_(None)) if key.nullable else key.column >= value
    if value is None:
        return true()
    return key.column <= value


def _equal(key: SortKey, value: Any) -> ColumnElement[bool]:
    return key.column.is_(None) if value is None else key.column == value


def _row_past(keys: Sequence[SortKey], values: Sequence[Any], forward: bool, inclusive: bool) -> ColumnElement[bool]:
    """The rows past `values` (at them too, with `inclusive`), as one row-value comparison."""
    infinity = literal(math.inf, Float)
    row = tuple_(*(func.coalesce(k.column, infinity) if k.nullable else k.column for k in keys))
    bound = tuple_(*(infinity if v is None else literal(v, k.column.type) for k, v in zip(keys, values)))
    if _towards_greater(keys[0], forward):
        return row >= bound if inclusive else row > bound
    return row <= bound if inclusive else row < bound


def _keyset(keys: Sequence[SortKey], values: Sequence[Any], forward: bool, inclusive: bool) -> ColumnElement[bool]:
    if len({key.descending for key in keys}) != 1:
        raise ValueError("a keyset sort must run every key the same way (one row-value comparison)")
    return _row_past(keys, values, forward, inclusive)


def beyond(position: Position, *, forward: bool, inclusive: bool = False) -> ColumnElement[bool]:
    """The rows after `position` in the queue's order (`forward`) or before it; with
    `inclusive`, the row at `position` too."""
    keys = _keys(position.sort, position.as_of)
    past = _keyset(keys, position.values, forward, inclusive)
    if keys[0].indexed:
        return and_(_at_or_past(keys[0], position.values[0], forward), past)
    return past


# ---------------------------------------------------------------- cursors

_CURSOR_SALT: Final = "staff-queue-cursor"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND: Final = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def cursor_token(position: Position, secret: str) -> str:
    """`position` as an opaque, URL-safe, signed token (timestamps as whole
    microseconds, so nothing is lost on the way)."""
    values = [_micros(v) if isinstance(v, datetime) else v for v in position.values]
    payload = [position.sort, _micros(position.as_of), values]
    return URLSafeSerializer(secret, salt=_CURSOR_SALT).dumps(payload)


def _decoded(value: Any, key: SortKey) -> Any:
    """The JSON `value` as `key`'s Python type; ValueError if it cannot be one."""
    if value is None:
        if key.nullable:
            return None
        raise ValueError("NULL for a key that is never NULL")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("not a number")
    kind = getattr(key.column.type, "impl", key.column.type).python_type  # through UTCDateTime to DateTime
    if kind is datetime:
        if not isinstance(value, int):
            raise ValueError("not whole microseconds")
        return _EPOCH + value * _MICROSECOND
    if kind is int:
        if not isinstance(value, int):
            raise ValueError("not an integer")
        return value
    if not math.isfinite(value):
        raise ValueError("not finite")
    return float(value)


def read_cursor(token: str, secret: str, *, sort: str) -> Position | None:
    """The position in `token`, or None when it is malformed, was not signed with
    `secret` or belongs to a sort other than `sort`."""
    try:
        found = URLSafeSerializer(secret, salt=_CURSOR_SALT).loads(token)
        name, as_of, values = found
        if name != sort or name not in SORTS or not isinstance(values, list):
            return None
        keys = _keys(name, _EPOCH)
        if len(values) != len(keys):
            return None
        moment = _decoded(as_of, SortKey(Case.created_at, False))
        return Position(name, moment, tuple(_decoded(v, k) for v, k in zip(values, keys)))
    except (BadData, ValueError, TypeError, OverflowError):
        return None


def count(session: Session, filters: QueueFilters, *, user_id: int, now: datetime) -> int:
    # count(*), not count(id): the status index alone can answer it (an index-only scan).
    stmt = select(func.count()).select_from(Case).where(*conditions(filters, user_id=user_id, now=now))
    return session.scalar(stmt) or 0


def position_count(session: Session, filters: QueueFilters, position: Position, *, user_id: int, now: datetime,
                   inclusive: bool) -> int:
    """How many filtered rows come before `position` (and, `inclusive`, the row there).

    This is how a keyset page knows its place ("26–50 of N", the page marker) without
    an offset: the same filters plus the keyset bound, counted. It is exact whatever
    happened since the cursor was made (cases added above it or closed), unlike
    arithmetic on a page number carried along, and it reads only `cases` (no joins,
    no rows fetched). When the first key has an index (newest, oldest) the count is
    split on it: the rows strictly before on that key alone (a range of its index, read
    from the index only when no other filter needs the table), plus the few that tie on
    it and come before on the rest; at 100,000 cases that is about a tenth of the time
    of one count over the whole comparison, which PostgreSQL answers with a table scan
    (bench/scale.py)."""
    where = conditions(filters, user_id=user_id, now=now)
    keys = _keys(position.sort, position.as_of)
    first, value = keys[0], position.values[0]
    if not first.indexed:
        stmt = select(func.count()).select_from(Case).where(*where, beyond(position, forward=False, inclusive=inclusive))
        return session.scalar(stmt) or 0
    ahead = select(func.count()).select_from(Case).where(*where, _strictly_past(first, value, False))
    ties = select(func.count()).select_from(Case).where(
        *where, _equal(first, value), _keyset(keys[1:], position.values[1:], False, inclusive)
    )
    return session.scalar(select(ahead.scalar_subquery() + ties.scalar_subquery())) or 0


def _positioned(found: Sequence[Any], sort: str, as_of: datetime) -> list[tuple[Case, Position]]:
    return [(row[0], Position(sort, as_of, tuple(row[1:]))) for row in found]


def _by_number(session: Session, filters: QueueFilters, number: int, total: int, *, user_id: int, now: datetime,
               per_page: int) -> list[tuple[Case, Position]]:
    """Page `number` by LIMIT/OFFSET, read from the nearer end (OFFSET at most half the
    rows; none at all on the first and the last page)."""
    start, end = (number - 1) * per_page, min(number * per_page, total)
    if start >= total - end:
        stmt = query(filters, user_id=user_id, now=now, reverse=True).limit(end - start)
        if total - end:
            stmt = stmt.offset(total - end)
        return _positioned(session.execute(stmt).all(), filters.sort, now)[::-1]
    stmt = query(filters, user_id=user_id, now=now).limit(per_page)
    if start:
        stmt = stmt.offset(start)
    return _positioned(session.execute(stmt).all(), filters.sort, now)


def _seek(session: Session, filters: QueueFilters, position: Position, *, forward: bool, user_id: int,
          now: datetime, per_page: int) -> list[tuple[Case, Position]]:
    """Up to per_page + 1 rows after (`forward`) or before `position`, nearest first:
    no OFFSET; the extra row says whether there is more that way."""
    stmt = (
        query(filters, user_id=user_id, now=now, reverse=not forward, as_of=position.as_of)
        .where(beyond(position, forward=forward))
        .limit(per_page + 1)
    )
    return _positioned(session.execute(stmt).all(), filters.sort, position.as_of)


@dataclass(frozen=True)
class _Window:
    found: list[tuple[Case, Position]]
    offset: int
    has_previous: bool
    has_next: bool


def _by_cursor(session: Session, filters: QueueFilters, position: Position, total: int, *, forward: bool,
               user_id: int, now: datetime, per_page: int) -> _Window | None:
    """The page after (`forward`) or before `position`; None when the rows moved since
    the cursor was made so that nothing follows it, or less than a page precedes it."""
    seen = _seek(session, filters, position, forward=forward, user_id=user_id, now=now, per_page=per_page)
    more = len(seen) > per_page
    if forward and seen:
        found = seen[:per_page]
        offset = position_count(session, filters, position, user_id=user_id, now=now, inclusive=True)
        offset = min(offset, max(0, total - len(found)))
        return _Window(found, offset, has_previous=offset > 0, has_next=more)
    if not forward and len(seen) >= per_page:
        found = seen[:per_page][::-1]
        offset = max(0, position_count(session, filters, position, user_id=user_id, now=now, inclusive=False) - per_page)
        return _Window(found, offset, has_previous=more, has_next=offset + len(found) < total)
    return None


def page(session: Session, filters: QueueFilters, *, user_id: int, now: datetime, per_page: int = PER_PAGE,
         after: Position | None = None, before: Position | None = None) -> QueuePage:
    """One page of the queue: page `filters.page` (a page past the end shows the last
    page), or with `after` / `before` the page just after / before that position (the
    Next and Previous links). A position of another sort is ignored (page 1). Nothing
    after the position shows the last page; less than a page before it, the first.
    Either way the same statements: the total count, the rows (by cursor, plus the
    count of the rows before them), the overdue clinics of the rows shown."""
    total = count(session, filters, user_id=user_id, now=now)
    pages = max(1, math.ceil(total / per_page))
    window = None
    cursor = after or before
    if cursor is not None and cursor.sort != filters.sort:
        filters = replace(filters, page=1)
    elif cursor is not None:
        forward = cursor is after
        window = _by_cursor(session, filters, cursor, total, forward=forward, user_id=user_id, now=now,
                            per_page=per_page)
        if window is None:
            filters = replace(filters, page=pages if forward else 1)
    if window is None:
        number = min(max(1, filters.page), pages)
        window = _Window(_by_number(session, filters, number, total, user_id=user_id, now=now, per_page=per_page),
                         (number - 1) * per_page, has_previous=number > 1, has_next=number < pages)
    found = window.found
    late = overdue_clinics(session, [case.id for case, _ in found])
    rows = []
    for case, _ in found:
        due = sla.due_at(case, now)
        rows.append(QueueRow(case=case, overdue=due is not None and due < now, next_due=due,
                             overdue_clinics=late.get(case.id, ())))
    return QueuePage(
        rows=rows, total=total, page=min(window.offset // per_page + 1, pages), per_page=per_page,
        offset=window.offset, has_previous=window.has_previous, has_next=window.has_next,
        first_position=found[0][1] if found else None, last_position=found[-1][1] if found else None,
    )


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
