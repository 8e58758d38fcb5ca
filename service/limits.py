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
}

# What the file picker suggests; the server still decides from the bytes.
ACCEPT_ATTRIBUTE: Final = ".pdf,.jpg,.jpeg,.png,.heic,.heif,.webp,.tif,.tiff,.dcm,application/pdf,image/*,application/dicom"

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

