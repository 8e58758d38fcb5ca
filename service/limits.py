"""Every limit of the product and the accepted file types, as plain data: the one
definition that forms, domain code, API, templates, OpenAPI document and tests all read."""
from __future__ import annotations

from decimal import Decimal
from typing import Final

MIB: Final = 1024 * 1024

MAX_FILES: Final = 10
MAX_FILE_BYTES: Final = 10 * MIB

# Room for the text fields and multipart framing on top of the files themselves,
# so a request that cannot possibly be valid is refused (413) before it is read.
FORM_OVERHEAD_BYTES: Final = 1 * MIB

# Parts one form body may have, fields and files together. Our forms have a few dozen
# with their files; a body with more came from none of them (refused 400, not 413).
MAX_FORM_PARTS: Final = 200

# Bytes one text field may take as sent: over four times the longest text any form takes,
# at its worst (DESCRIPTION_MAX characters of 4 UTF-8 bytes, percent-encoded: 12 each), so
# that a text over its field's limit still gets the form's own message, which keeps the
# form; only a field no form could produce is refused whole (413).
MAX_TEXT_FIELD_BYTES: Final = 256 * 1024

# Detected MIME type -> label shown to people. Order is the order we list them in.
ACCEPTED_TYPES: Final[dict[str, str]] = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/heic": "HEIC",
    "image/heif": "HEIF",
    "image/webp": "WebP",
    "image/tiff": "TIFF",
    "application/dicom": "DICOM",
    # Only the content of a CT or MRI disc (DICOM files); see DISC_* below.
    "application/zip": "ZIP",
}

# What the file picker suggests; the server still decides from the bytes.
ACCEPT_ATTRIBUTE: Final = ".pdf,.jpg,.jpeg,.png,.heic,.heif,.webp,.tif,.tiff,.dcm,.zip,application/pdf,image/*,application/dicom,application/zip"

# The patient's request (`forms.request`, the API and its OpenAPI document), in characters.
DESCRIPTION_MIN: Final = 20
DESCRIPTION_MAX: Final = 5000
NAME_MAX: Final = 200
EMAIL_MAX: Final = 254
TRAVEL_WINDOW_MAX: Final = 200
FREE_TEXT_MAX: Final = 2000
BUDGET_MAX: Final = Decimal(10000000)

# Staff-typed numbers; the upper bounds only catch typing slips.
MAX_CLINIC_CAPACITY: Final = 1000
"""Open referrals a clinic may hold."""
MAX_COORDINATOR_CAPACITY: Final = 500
"""Open cases a coordinator may hold."""
MAX_DASHBOARD_DAYS: Final = 366
MAX_TOP_N: Final = 10
"""Clinics one "route to the suggestions" may refer a case to at once."""

# The patient's answer to a coordinator's question, in characters.
ANSWER_MAX_CHARS: Final = 5000

# A clinic's quote and answers. MAX_PRICE is what `quotes.price` (NUMERIC(12, 2)) holds:
# prices in won or tenge run to tens of millions.
MAX_PRICE: Final = Decimal("10000000000")
MAX_STAY_DAYS: Final = 365
NOTES_MAX_CHARS: Final = 2000
REASON_MAX_CHARS: Final = 2000
QUESTION_MAX_CHARS: Final = 2000
"""The longest dashboard period: bounds the queries to a year of rows, bucketed in Python."""


# The largest e-mail the inbound receiver (workers.mail_in) takes, as sent (MIME-encoded:
# base64 makes files a third larger); it is advertised in EHLO as SIZE.
MAIL_IN_MAX_BYTES: Final = 25 * MIB

# The longest message a patient or coordinator types in the case's conversation (an
# e-mail reply is kept whole, quotes included, up to MESSAGE_EMAIL_MAX_CHARS).
MESSAGE_MAX_CHARS: Final = 5000
MESSAGE_EMAIL_MAX_CHARS: Final = 100_000

# The clinic's answer clock (service.cases.sla.CLINIC_ANSWER, 72 h): the clinic is
# reminded once when this many hours of it remain.
CLINIC_REMINDER_HOURS_LEFT: Final = 24

# A single-use opener (the link each patient e-mail carries, service.cases.openers) works
# for this many days; once used, the browser that used it may see the case for this many
# hours before it needs the permanent link or a new opener.
OPENER_TTL_DAYS: Final = 7
STATUS_ACCESS_HOURS: Final = 2

# "I lost my link" (/s/lost) and "my link leaked" (rotate) send e-mails: how often one
# address may be asked for, and how often one client may ask, whatever the address.
LOST_LINK_PER_ADDRESS: Final = "3 per hour"
LOST_LINK_PER_CLIENT: Final = "10 per hour"
ROTATE_PER_CLIENT: Final = "5 per hour"

# A coordinator's question the patient has not answered is recalled to them by e-mail
# this many days after it was asked, once per step, then never again
# (service.cases.patient_mail.remind_questions).
QUESTION_REMINDER_DAYS: Final = (3, 7)

# A ZIP of a CT/MRI disc's content (service.files.studies), checked at intake from its
# central directory and enforced again on the bytes actually expanded by the worker. A
# disc of a few studies holds some hundreds to 1,500 files (slices, DICOMDIR, a viewer),
# 50-500 MiB once expanded; the ZIP itself obeys MAX_FILE_BYTES.
DISC_MAX_ENTRIES: Final = 2000
DISC_MAX_UNCOMPRESSED_BYTES: Final = 512 * MIB
# Per member, expanded over compressed size, judged once a member has expanded past
# DISC_RATIO_FROM_BYTES. Real CT/MR slices deflate 2-5:1 (noise in the body), a slice with
# large constant areas ~100:1 (tests' banded CT image: 95:1), an all-black 512x512 slice
# ~360:1 but only 0.5 MiB, under the threshold. Deflate's own maximum is ~1032:1, where
# bombs run; 200:1 past 1 MiB refuses them after 1 MiB of output, whatever they declare.
DISC_MAX_RATIO: Final = 200
DISC_RATIO_FROM_BYTES: Final = 1 * MIB

# The trip (service.cases.trip): a traveller's passport must stay valid this many months
# after the return flight leaves (most consulates' and airlines' rule); the patient is
# reminded of the outbound flight this many days before it leaves, once per step.
PASSPORT_VALID_MONTHS_AFTER_RETURN: Final = 6
TRIP_REMINDER_DAYS: Final = (7, 1)
TRAVELLER_NAME_MAX_CHARS: Final = 100
TRIP_TEXT_MAX_CHARS: Final = 300

# Releasing the patient's contact details to a clinic the patient did not choose needs a
# reason on the record (service.cases.workflow `release_contact` with override).
RELEASE_OVERRIDE_REASON_MIN_CHARS: Final = 10
RELEASE_OVERRIDE_REASON_MAX_CHARS: Final = 500
