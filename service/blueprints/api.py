"""JSON API, v1: the same intake as the form, for partners and scripts.
No CSRF and no cookies; errors are RFC 9457 problem+json."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from werkzeug.wrappers import Response

from service.api.openapi import document
from service.blueprints.requests import build_form
from service.cases import idempotency, intake, journey, quotes
from service.cases.events import describe, patient_timeline
from service.cases.lookup import case_for_token
from service.models import Attachment, Case, Quote, Referral
from service.problems import problem
from service.store import get_storage
from service.uploads import Problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

# When several kinds of file problem occur at once, the most specific status wins.
_FILE_STATUS = ((Problem.TOO_LARGE, 413), (Problem.TYPE, 415))


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "filename": attachment.filename,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "content_type": attachment.content_type,
    }


def quote_json(case: Case, referral: Referral, quote: Quote, today: date) -> dict[str, Any]:
    clinic = referral.clinic
    return {
        "clinic": {"name": clinic.name, "city": clinic.city, "country": clinic.country,
                   "accreditations": list(clinic.accreditations)},
        "version": quote.version,
        "price": str(quote.price),
        "currency": quote.currency,
        "includes": list(quote.includes),
        "earliest_date": quote.earliest_date.isoformat(),
        "stay_days": quote.stay_days,
        "valid_until": quote.valid_until.isoformat(),
        "expired": quote.valid_until < today,
        "chosen": case.chosen_quote_id == quote.id,
        "revision_pending": quotes.pending_revision(referral) is not None,
    }


def status_json(case: Case) -> dict[str, Any]:
    status = case.status_enum
    today = datetime.now(timezone.utc).date()
    where = journey.journey(case, today)
    return {
        "reference": case.reference,
        "status": str(status),
        "status_label": status.label,
        "next_step": status.next_step_when(current_app.config["AUTO_ROUTE"]),
        # The status page's stepper and action box: stable codes, English texts.
        "step": {"code": str(where.current), "text": where.current.label} if where.current else None,
        "next_action": (
            {"code": str(where.next_action.code), "text": where.next_action.text} if where.next_action else None
        ),
        "created_at": case.created_at.isoformat(),
        "treatment": {"slug": case.treatment.slug, "name": case.treatment.name},
        "preferred_clinic": case.preferred_clinic.slug if case.preferred_clinic else None,
        "max_files": current_app.config["MAX_FILES"],
        "files_left": current_app.config["MAX_FILES"] - len(case.attachments),
        "attachments": [attachment_json(a) for a in case.attachments],
        # The counting quotes, side by side as the status page shows them.
        "quotes": [quote_json(case, r, q, today) for r, q in quotes.comparison(case, today)],
        "timeline": [
            # Who in kind only ("staff", "patient", "system"): never a coordinator's email.
            {"at": e.created_at.isoformat(), "actor": e.actor.split(":", 1)[0], "kind": e.kind, "text": describe(e)}
            for e in patient_timeline(case)
        ],
    }


@bp.post("/requests")
def create_request() -> Response:
    if request.mimetype not in FORM_TYPES:
        return problem(
            415, "Unsupported Media Type",
            "Send the request as multipart/form-data (or application/x-www-form-urlencoded without files).",
        )
    key = request.headers.get(idempotency.HEADER)
    if key is not None and not idempotency.valid_key(key):
        return problem(
            400, "Invalid Idempotency-Key",
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters.",
            errors={idempotency.HEADER: ["1 to 255 printable ASCII characters"]},
        )
    fingerprint = idempotency.request_fingerprint(request.form, request.files) if key is not None else ""
    return idempotency.once(idempotency.API, key, fingerprint, run=_create, replay=_replay, refuse=_refused)


def _refused(outcome: idempotency.Outcome) -> Response:
    if outcome is idempotency.Outcome.MISMATCH:
        return problem(422, "Idempotency-Key reused", "this Idempotency-Key was used for a different request")
    return problem(
        409, "Request in progress",
        "A request with this Idempotency-Key is still being processed; retry it later.",
    )


def _create(attempt: idempotency.Attempt) -> Response:
    form = build_form(meta={"csrf": False})
    if not form.validate():
        status = next(
            (code for kind, code in _FILE_STATUS if any(p.problem == kind for p in form.file_problems)),
            422,
        )
        errors = {name: list(messages) for name, messages in form.errors.items()}
        return problem(status, "Invalid request", "One or more fields are invalid.", errors=errors)
    recorded: dict[str, Any] = {}

    def respond(result: intake.IntakeResult) -> None:
        body: dict[str, Any] = {
            "reference": result.case.reference,
            "status_url": url_for("status.show", token=result.token, _external=True),
            "attachments": [attachment_json(a) for a in result.attachments],
            "warnings": [],
        }
        if result.files_failed:
            body["warnings"].append(
                "The files could not be stored; the request is on record. Add them from the status page."
            )
        recorded.update(
            body=body, location=url_for("api.get_request", token=result.token, _external=True)
        )
        attempt.complete(result.case, 201, recorded)

    intake.submit_request(
        form.request_data(), form.accepted_files, get_storage(), source="api", on_recorded=respond
    )
    return _response(201, recorded)


def _response(status: int, recorded: dict[str, Any]) -> Response:
    response = jsonify(recorded["body"])
    response.status_code = status
    response.headers["Location"] = recorded["location"]
    return response


def _replay(record) -> Response:
    """The first request's response again; nothing is created."""
    response = _response(record.response_status, idempotency.recorded(record))
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


@bp.get("/requests/<token>")
def get_request(token: str) -> Response:
    case = case_for_token(token)
    if case is None:
        return problem(404, "Not Found", "No request has this status token.")
    response = jsonify(status_json(case))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
