"""The case priorities, defined once beside the column that stores them (the models,
the staff workflow and its form import them from here), and the queue's order of them:
`cases.priority_rank`, a generated column the database computes from `cases.priority`
with `RANK_SQL`, so the priority sort reads an index instead of sorting every case."""
from __future__ import annotations

from typing import Final

# Lowest first (the order the staff form offers them in).
PRIORITIES: Final = ("low", "normal", "high", "urgent")
DEFAULT_PRIORITY: Final = "normal"


def _rank_sql(column: str) -> str:
    """0 for the most urgent priority, counting up to the lowest; a value outside
    `PRIORITIES` ranks as the default. Ascending, so the whole priority sort
    (rank, created_at, id) runs one way and a keyset bound is one row comparison."""
    places = " ".join(f"WHEN '{p}' THEN {len(PRIORITIES) - 1 - i}" for i, p in enumerate(PRIORITIES))
    default = len(PRIORITIES) - 1 - PRIORITIES.index(DEFAULT_PRIORITY)
    return f"CASE {column} {places} ELSE {default} END"


RANK_SQL: Final = _rank_sql("priority")
