"""Case statuses, defined once. Later work (routing, staff console) extends the set;
the patient-facing wording lives beside each value so templates never restate it."""
from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"

    @property
    def label(self) -> str:
        return _LABELS[self][0]

    @property
    def next_step(self) -> str:
        return _LABELS[self][1]


_LABELS: dict[CaseStatus, tuple[str, str]] = {
    CaseStatus.SUBMITTED: (
        "Received",
        "A coordinator will review your request and contact you, usually within one working day.",
    ),
}
