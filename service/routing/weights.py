"""Every weight and threshold of clinic routing, in one place.

How a case is scored against a clinic (`service.routing.ranking.rank_clinics`):

1. Hard filters. A clinic is a candidate only if it offers the case's treatment, is
   accepting cases, has fewer open referrals than its capacity, and the case was not
   already referred to it. Nothing below can rescue a clinic that fails a filter.
2. Preferences. Each candidate collects points from independent components, each kept
   with a reason in words for staff:

   ================  =====================================================  ================
   component         rule                                                   points
   ================  =====================================================  ================
   chosen clinic     the patient picked this clinic                         +PREFERRED_CLINIC_BONUS
   treatment         the clinic offers the treatment (shown, not scored)    TREATMENT_OFFERED
   language          speaks the patient's language                          +LANGUAGE_MATCH
                     else speaks English                                    +LANGUAGE_FALLBACK
                     else                                                   0
   accreditation     per accreditation, ACCREDITATION_POINTS (unknown       up to
                     ones OTHER_ACCREDITATION), best first, total capped    +ACCREDITATION_CAP
   budget            indicative price <= budget                             +BUDGET_WITHIN
                     over budget: BUDGET_OVER_PER_PERCENT per % over        down to
                                                                            -BUDGET_OVER_MAX_PENALTY
                     no budget, or a currency without an indicative rate    no component
   response time     linear from RESPONSE_FAST_HOURS (full) to              0 .. +RESPONSE_MAX
                     RESPONSE_SLOW_HOURS (none); no history: 0
   acceptance rate   ACCEPTANCE_MAX x rate; no history: 0                   0 .. +ACCEPTANCE_MAX
   current load      LOAD_MAX x (1 - open referrals / capacity)             0 .. +LOAD_MAX
   ================  =====================================================  ================

   Each component's points are rounded to POINTS_DECIMALS; the score is their sum,
   rounded the same way, so equal clinics get exactly equal scores.
3. Order: score descending; ties go to the lower load ratio (open / capacity, to
   spread cases), then to the slug in alphabetical order.

The chosen-clinic bonus exceeds the widest possible gap between any two clinics on
all other components together (PREFERENCE_SPREAD), so a chosen clinic that passes the
filters is always first. The check at the bottom of this module enforces it.
"""
from __future__ import annotations

from typing import Final

# --- the patient's own choice -------------------------------------------------------

# Bigger than PREFERENCE_SPREAD: the clinic the patient chose always ranks first.
PREFERRED_CLINIC_BONUS: Final = 1000.0

# --- treatment -------------------------------------------------------------------------

# Offering the treatment is a hard filter, so it separates nobody; shown for staff only.
TREATMENT_OFFERED: Final = 0.0

# --- language ---------------------------------------------------------------------------

# Talking to the patient without an interpreter matters most for care and consent.
LANGUAGE_MATCH: Final = 30.0
# Most patients can manage in English through a relative or an app, but less well.
LANGUAGE_FALLBACK: Final = 10.0
# The fallback language (ISO 639-1) international clinics nearly all use.
FALLBACK_LANGUAGE: Final = "en"

# --- accreditation ----------------------------------------------------------------------

# Points per accreditation (matched case-insensitively), by how demanding its audit is.
ACCREDITATION_POINTS: Final[dict[str, float]] = {
    "JCI": 15.0,  # Joint Commission International: the reference for international patients.
    "DNV": 10.0,  # DNV international hospital accreditation: full clinical audit, ISO-based.
    "ACHSI": 8.0,  # ACHS International: national-standard clinical accreditation abroad.
    "NABH": 8.0,  # India's national hospital accreditation (ISQua-recognised).
    "TEMOS": 6.0,  # Certifies care of international patients, less of clinical quality.
    "ISO 9001": 4.0,  # Quality-management certification only: processes, not outcomes.
}
# An accreditation we do not know still shows outside scrutiny, but we cannot judge it.
OTHER_ACCREDITATION: Final = 2.0
# Beyond one top accreditation plus a little, more badges say little more.
ACCREDITATION_CAP: Final = 20.0

# --- budget -------------------------------------------------------------------------------

# An indicative price within the patient's budget is a strong practical fit.
BUDGET_WITHIN: Final = 15.0
# Each percent over budget costs this much: 20 % over costs 10 points.
BUDGET_OVER_PER_PERCENT: Final = 0.5
# Prices are "from" and rates indicative, so far-over clinics stay listed, just lower.
BUDGET_OVER_MAX_PENALTY: Final = 30.0

# --- past behaviour -------------------------------------------------------------------

# A quick first answer shortens the patient's wait; worth as much as acceptance.
RESPONSE_MAX: Final = 10.0
# Answering within half a working day earns the full points.
RESPONSE_FAST_HOURS: Final = 12.0
# Three days or slower earns nothing: beyond that the patient is already chasing us.
RESPONSE_SLOW_HOURS: Final = 72.0
# A clinic that accepts most referrals wastes less of the patient's time.
ACCEPTANCE_MAX: Final = 10.0

# --- current load ---------------------------------------------------------------------

# Spreads cases over clinics: an empty clinic gets all, a nearly full one almost none.
LOAD_MAX: Final = 10.0

# --- arithmetic -------------------------------------------------------------------------

# Points and scores are rounded to cents so float noise never decides an order.
POINTS_DECIMALS: Final = 2

# The widest gap the non-chosen components can make between two candidates.
PREFERENCE_SPREAD: Final = (
    LANGUAGE_MATCH
    + ACCREDITATION_CAP
    + BUDGET_WITHIN
    + BUDGET_OVER_MAX_PENALTY
    + RESPONSE_MAX
    + ACCEPTANCE_MAX
    + LOAD_MAX
)

if PREFERRED_CLINIC_BONUS <= PREFERENCE_SPREAD:  # pragma: no cover - guards future edits
    raise RuntimeError(
        f"PREFERRED_CLINIC_BONUS ({PREFERRED_CLINIC_BONUS}) must exceed PREFERENCE_SPREAD "
        f"({PREFERENCE_SPREAD}) or the patient's chosen clinic could rank below another"
    )
