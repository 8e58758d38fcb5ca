"""The OpenAPI 3.1 document of /api/v1, built from the same limits and code lists the
service enforces, so the contract cannot drift from the behaviour."""
from __future__ import annotations

from typing import Any

from flask import current_app
from PIL import Image

from service import limits, trust
from service.cases import idempotency
from service.cases.journey import ActionCode, Step
from service.cases.quotes import INCLUDES


def _problem_response(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying",
                            "schema": {"type": "string", "pattern": "^[0-9]+$"}},
        }
    return response


def _coded_or_null(description: str, codes: list[str]) -> dict[str, Any]:
    """A stable code with its text, or null."""
    coded = {
        "type": "object",
        "required": ["code", "text"],
        "properties": {"code": {"type": "string", "enum": codes}, "text": {"type": "string"}},
    }
    return {"description": description, "oneOf": [{"type": "null"}, coded]}


UNAVAILABLE = "The database is unreachable just now; nothing was recorded. Retry after `Retry-After` seconds"


def _request_schema(max_files: int, max_file_bytes: int) -> dict[str, Any]:
    text = {"type": "string"}
    optional_text = {"type": "string", "maxLength": limits.FREE_TEXT_MAX}
    return {
        "type": "object",
        "required": ["full_name", "email", "country", "language", "treatment", "description", "consent"],
        "properties": {
            "full_name": {**text, "maxLength": limits.NAME_MAX},
            "email": {**text, "format": "email", "maxLength": limits.EMAIL_MAX},
            "phone": {**text, "description": "International number, e.g. +49 30 123456"},
            "country": {**text, "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
            "date_of_birth": {**text, "format": "date"},
            "language": {**text, "pattern": "^[a-z]{2}$", "description": "ISO 639-1"},
            "treatment": {**text, "description": "Catalogue slug of the treatment"},
            "preferred_clinic": {**text, "description": "Catalogue slug of a clinic; omit to leave the choice to us"},
            "description": {**text, "minLength": limits.DESCRIPTION_MIN, "maxLength": limits.DESCRIPTION_MAX},
            "travel_window": {**text, "maxLength": limits.TRAVEL_WINDOW_MAX},
            "budget": {**text, "pattern": r"^\d+(\.\d{1,2})?$", "description": f"Amount, 1 to {limits.BUDGET_MAX}"},
            "budget_currency": {**text, "pattern": "^[A-Z]{3}$", "description": "ISO 4217; required with budget"},
            "medications": optional_text,
            "allergies": optional_text,
            "conditions": optional_text,
            "consent": {
                **text, "enum": ["y", "yes", "true", "on", "1"],
                "description": (
                    f"The patient's explicit consent to the wording of version {trust.CONSENT_VERSION} "
                    "(quoted in the privacy notice, GET /privacy); the version is recorded with the case"
                ),
            },
            "files": {
                "type": "array",
                "maxItems": max_files,
                "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                "description": (
                    f"Up to {max_files} files of at most {max_file_bytes} bytes each; "
                    f"accepted types, detected from the bytes: {', '.join(limits.ACCEPTED_TYPES)}. "
                    "A PDF must open without a password and an image must have at most "
                    f"{Image.MAX_IMAGE_PIXELS} pixels (422 otherwise)"
                ),
            },
        },
    }


SCHEMAS: dict[str, Any] = {
    "Attachment": {
        "type": "object",
        "required": ["filename", "size", "sha256", "content_type"],
        "properties": {
            "filename": {"type": "string"},
            "size": {"type": "integer", "minimum": 1},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "content_type": {"type": "string", "enum": list(limits.ACCEPTED_TYPES)},
        },
    },
    "Created": {
        "type": "object",
        "required": ["reference", "status_url", "attachments", "warnings"],
        "properties": {
            "reference": {"type": "string", "pattern": r"^MT-\d{4}-\d{6}$"},
            "status_url": {"type": "string", "format": "uri"},
            "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Status": {
        "type": "object",
        "required": [
            "reference", "status", "status_label", "next_step", "step", "next_action", "created_at", "treatment",
            "preferred_clinic", "max_files", "files_left", "attachments", "quotes", "timeline",
        ],
        "properties": {
            "reference": {"type": "string", "pattern": r"^MT-\d{4}-\d{6}$"},
            "status": {"type": "string"},
            "status_label": {"type": "string"},
            "next_step": {"type": "string"},
            "step": _coded_or_null(
                "Where the request is on the patient's journey; null once it is closed", [s.value for s in Step],
            ),
            "next_action": _coded_or_null(
                "What the patient must do now, if anything; the code is stable, the text English",
                [a.value for a in ActionCode],
            ),
            "created_at": {"type": "string", "format": "date-time"},
            "treatment": {
                "type": "object",
                "required": ["slug", "name"],
                "properties": {"slug": {"type": "string"}, "name": {"type": "string"}},
            },
            "preferred_clinic": {"type": ["string", "null"]},
            "max_files": {"type": "integer"},
            "files_left": {"type": "integer", "minimum": 0},
            "attachments": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}},
            "quotes": {
                "type": "array",
                "description": "Each clinic's counting quote: cheapest first within a currency, expired ones last",
                "items": {"$ref": "#/components/schemas/Quote"},
            },
            "timeline": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "actor", "kind", "text"],
                    "properties": {
                        "at": {"type": "string", "format": "date-time"},
                        "actor": {"type": "string"},
                        "kind": {"type": "string"},
                        "text": {"type": "string"},
                    },
                },
            },
        },
    },
    "Quote": {
        "type": "object",
        "required": [
            "clinic", "version", "price", "currency", "includes", "earliest_date", "stay_days",
            "valid_until", "expired", "chosen", "revision_pending",
        ],
        "properties": {
            "clinic": {
                "type": "object",
                "required": ["name", "city", "country", "accreditations"],
                "properties": {
                    "name": {"type": "string"},
                    "city": {"type": "string"},
                    "country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
                    "accreditations": {"type": "array", "items": {"type": "string"}},
                },
            },
            "version": {"type": "integer", "minimum": 1},
            "price": {"type": "string", "pattern": r"^\d+\.\d{2}$", "description": "Decimal amount"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"},
            "includes": {"type": "array", "items": {"type": "string", "enum": list(INCLUDES)}},
            "earliest_date": {"type": "string", "format": "date"},
            "stay_days": {"type": "integer", "minimum": 1},
            "valid_until": {"type": "string", "format": "date"},
            "expired": {"type": "boolean"},
            "chosen": {"type": "boolean", "description": "The quote the patient chose"},
            "revision_pending": {
                "type": "boolean", "description": "The clinic sent a revision the patient has not accepted yet",
            },
        },
    },
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def document() -> dict[str, Any]:
    max_files = current_app.config["MAX_FILES"]
    max_file_bytes = current_app.config["MAX_FILE_BYTES"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Medtour API",
            "version": "1.0.0",
            "description": "Submit a treatment request with its medical files, and follow it.",
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/api/v1/requests": {
                "post": {
                    "operationId": "createRequest",
                    "summary": "Submit a treatment request",
                    "parameters": [
                        {
                            "name": idempotency.HEADER,
                            "in": "header",
                            "required": False,
                            "description": (
                                "Optional. Retrying with the same key and the same fields and files returns "
                                "the first response again (with `Idempotent-Replayed: true`) and records "
                                "nothing; the same key with a different request is refused (422), and while "
                                f"the first is still running (409). Keys are remembered for "
                                f"{int(idempotency.KEY_TTL.total_seconds() // 3600)} hours."
                            ),
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                       "pattern": "^[\\x20-\\x7e]+$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": _request_schema(max_files, max_file_bytes),
                                "encoding": {"files": {"contentType": "application/octet-stream"}},
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Recorded",
                            "headers": {
                                "Location": {"schema": {"type": "string"}},
                                idempotency.REPLAYED_HEADER: {
                                    "description": "`true` when this is the recorded response to an earlier "
                                                   "request with the same Idempotency-Key",
                                    "schema": {"type": "string", "enum": ["true"]},
                                },
                            },
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}},
                        },
                        "400": _problem_response(
                            "Malformed request, more form fields and files than the service accepts "
                            f"(at most {current_app.config['MAX_FORM_PARTS']}), or an invalid Idempotency-Key header"
                        ),
                        "409": _problem_response("A request with this Idempotency-Key is still being processed"),
                        "413": _problem_response(
                            "A file, a text field (at most "
                            f"{current_app.config['MAX_FORM_MEMORY_SIZE']:,} bytes) or the whole request is too large"
                        ),
                        "415": _problem_response("A file type is not accepted, or the body is not a form"),
                        "422": _problem_response(
                            "A field is invalid, or the Idempotency-Key was used for a different request"
                        ),
                        "429": _problem_response(
                            "Too many requests from this address; retry after `Retry-After` seconds",
                            retry_after=True,
                        ),
                        "503": _problem_response(UNAVAILABLE, retry_after=True),
                    },
                }
            },
            "/api/v1/requests/{token}": {
                "get": {
                    "operationId": "getRequest",
                    "summary": "The status of a request, as its status page shows it",
                    "parameters": [
                        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "The request's status",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}},
                        },
                        "404": _problem_response("No request has this token"),
                        "503": _problem_response(UNAVAILABLE, retry_after=True),
                    },
                }
            },
        },
        "components": {"schemas": SCHEMAS},
    }
