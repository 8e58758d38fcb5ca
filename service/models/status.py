"""Case and referral statuses, defined once beside the models that store them (the
models and every layer above import them from here). The patient-facing wording lives
beside each value so templates never restate it.
`label` and `next_step` are in the page's language (`service.i18n`: the patient's on
the status page, English for the API and everywhere else); `staff_label` is always
English."""
from __future__ import annotations

from enum import StrEnum

from service.i18n import N_, gettext


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    ROUTED = "routed"
    NEEDS_ATTENTION = "needs_attention"
    AWAITING_PATIENT = "awaiting_patient"
    CHOSEN = "chosen"
    # The trip (service.cases.trip): flights booked, the patient at the clinic, home again.
    TRAVEL_BOOKED = "travel_booked"
    IN_TREATMENT = "in_treatment"
    RETURNED = "returned"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return gettext(_LABELS[self][0])

    @property
    def next_step(self) -> str:
        return gettext(_LABELS[self][1])

    def next_step_when(self, routed_at_once: bool) -> str:
        """`next_step` as `AUTO_ROUTE` (`routed_at_once`) has it: a new case routed on
        arrival, or waiting for a coordinator to route it."""
        if routed_at_once and self in _ROUTED_AT_ONCE:
            return gettext(_ROUTED_AT_ONCE[self])
        return self.next_step

    @property
    def staff_label(self) -> str:
        """The console's wording: staff read "waiting on the patient", not "your answer"."""
        return _STAFF_LABELS.get(self, _LABELS[self][0])


_LABELS: dict[CaseStatus, tuple[str, str]] = {
    CaseStatus.SUBMITTED: (
        N_("Received"),
        N_("A coordinator reviews your request and then sends it to the clinics best suited to your "
           "treatment, usually within one working day."),
    ),
    CaseStatus.ROUTED: (
        N_("Sent to clinics"),
        N_("Clinics suited to your treatment are reviewing your case; they usually answer within three days."),
    ),
    CaseStatus.NEEDS_ATTENTION: (
        N_("Being reviewed"),
        N_("A coordinator is reviewing your request personally and will contact you soon."),
    ),
    CaseStatus.AWAITING_PATIENT: (
        N_("Waiting for your answer"),
        N_("Your coordinator asked you a question below; your request moves on as soon as you answer."),
    ),
    CaseStatus.CHOSEN: (
        N_("Clinic chosen"),
        N_("Your coordinator is arranging treatment, travel and paperwork with the clinic you chose."),
    ),
    CaseStatus.TRAVEL_BOOKED: (
        N_("Travel booked"),
        N_("Your flights and stay are booked: see your trip below, day by day. We will remind you before you fly."),
    ),
    CaseStatus.IN_TREATMENT: (
        N_("In treatment"),
        N_("You are with the clinic. Your coordinator stays in touch; write to them here if you need anything."),
    ),
    CaseStatus.RETURNED: (
        N_("Back home"),
        N_("Welcome home. Your coordinator will check in with you about your recovery and any follow-up."),
    ),
    CaseStatus.CLOSED: (
        N_("Closed"),
        N_("This request is closed. If you need anything, reply to our last email or send a new request."),
    ),
}

# With AUTO_ROUTE=1 (`next_step_when`): the case goes to the clinics as soon as it arrives.
_ROUTED_AT_ONCE: dict[CaseStatus, str] = {
    CaseStatus.SUBMITTED: N_("We are sending your request to the clinics best suited to your treatment; "
                             "a coordinator reviews it alongside, usually within one working day."),
}

_STAFF_LABELS: dict[CaseStatus, str] = {
    CaseStatus.SUBMITTED: "New",
    CaseStatus.NEEDS_ATTENTION: "Needs attention",
    CaseStatus.AWAITING_PATIENT: "Waiting on the patient",
    CaseStatus.TRAVEL_BOOKED: "Travel booked",
    CaseStatus.IN_TREATMENT: "In treatment",
    CaseStatus.RETURNED: "Returned home",
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


class ReferralState(StrEnum):
    """What a referral shows to the clinic portal, the staff case file and the API: its
    stored `ReferralStatus`, except that an accepted referral on a case whose patient
    chose a quote reads "chosen" or "not chosen". Derived (`Referral.state`), never
    stored, so a choice that staff record again moves both at once."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CHOSEN = "chosen"
    NOT_CHOSEN = "not_chosen"

    @property
    def staff_label(self) -> str:
        """English, for staff and clinics."""
        return _REFERRAL_STATE_LABELS[self]


_REFERRAL_STATE_LABELS: dict[ReferralState, str] = {
    ReferralState.PENDING: "Pending",
    ReferralState.ACCEPTED: "Accepted",
    ReferralState.DECLINED: "Declined",
    ReferralState.WITHDRAWN: "Withdrawn",
    ReferralState.CHOSEN: "Chosen",
    ReferralState.NOT_CHOSEN: "Not chosen",
}
