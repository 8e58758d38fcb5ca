"""Case statuses, defined once. Later work (routing, staff console) extends the set;
the patient-facing wording lives beside each value so templates never restate it."""
from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    ROUTED = "routed"
    NEEDS_ATTENTION = "needs_attention"

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
    CaseStatus.ROUTED: (
        "Sent to clinics",
        "Clinics suited to your treatment are reviewing your case; they usually answer within three days.",
    ),
    CaseStatus.NEEDS_ATTENTION: (
        "Being reviewed",
        "A coordinator is reviewing your request personally and will contact you soon.",
    ),
}


class ReferralStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @classmethod
    def open(cls) -> tuple[ReferralStatus, ...]:
        """Referrals that count against a clinic's capacity."""
        return (cls.PENDING, cls.ACCEPTED)
