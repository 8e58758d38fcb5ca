"""Resumable uploads over the tus protocol 1.0.0 (core + creation, termination, expiration).

A thin shell: headers in, headers out; the rules are in service/cases/staging.py and
docs/uploads.md describes the contract. POST, PATCH and DELETE need the page's CSRF
token in ``X-CSRFToken`` (CSRFProtect covers this blueprint like every page). Every
refusal is ``application/problem+json``.
"""
from __future__ import annotations

import base64
import binascii
import re

from flask import Blueprint, Response, current_app, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

from service import i18n
from service.cases import staging
from service.cases.staging import StagingError
from service.extensions import db
from service.i18n import gettext
from service.models import StagedUpload
from service.problems import problem
from service.store import get_storage
from service.sqlite_locks import release_snapshot

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"

bp = Blueprint("tus", __name__, url_prefix="/uploads")

_DIGITS = re.compile(r"[0-9]{1,20}")
_METADATA_KEY = re.compile(r"[!-+\--~]+")  # printable ASCII without space and comma


def _not_found() -> StagingError:
    return StagingError(
        404, "Not Found", gettext("No upload of yours has this id (it may have expired or been removed).")
    )


def _require_version() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise StagingError(412, "Unsupported tus version", gettext("Send Tus-Resumable: %(version)s.", version=TUS_VERSION))


def _whole_number(header: str) -> int:
    raw = request.headers.get(header, "").strip()
    if not _DIGITS.fullmatch(raw):
        raise StagingError(400, "Bad request", gettext("%(header)s must be a whole number of bytes.", header=header))
    return int(raw)


def _metadata() -> dict[str, str]:
    """``Upload-Metadata: key base64,key base64`` decoded; values must be UTF-8."""
    raw = request.headers.get("Upload-Metadata", "")
    result: dict[str, str] = {}
    for pair in filter(None, (item.strip() for item in raw.split(","))):
        key, _, value = pair.partition(" ")
        value = value.strip()
        if not _METADATA_KEY.fullmatch(key) or key in result or " " in value:
            raise StagingError(
                400, "Bad request", gettext("Upload-Metadata must be 'key base64value' pairs separated by commas.")
            )
        try:
            result[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise StagingError(
                400, "Bad request", gettext("Upload-Metadata %(key)s is not base64-encoded UTF-8.", key=repr(key))
            ) from exc
    return result


def _upload_headers(upload: StagedUpload, response: Response) -> Response:
    response.headers["Upload-Offset"] = str(upload.offset)
    response.headers["Upload-Expires"] = http_date(upload.expires_at)
    return response


def _owned(upload_id: str) -> StagedUpload:
    upload = staging.find(staging.session_owner(), upload_id)
    if upload is None:
        raise _not_found()
    return upload


@bp.before_request
def _language() -> None:
    """The refusals' details are shown to the patient by the form page's script: they
    speak the page's language (the switch remembered in the session, else Accept-Language)."""
    i18n.use_page_language(switch=False)


@bp.after_request
def _tus_headers(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(StagingError)
def _refused(exc: StagingError) -> Response:
    response = problem(exc.status, exc.title, exc.detail)
    if exc.status == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    return response


@bp.errorhandler(CSRFError)
def _csrf(exc: CSRFError) -> Response:
    return problem(400, "CSRF token missing or invalid",
                   gettext("Reload the page and try again (send the page's CSRF token in X-CSRFToken)."))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return problem(exc.code or 500, exc.name, exc.description)


@bp.route("", methods=["OPTIONS"], provide_automatic_options=False)
def options() -> Response:
    response = Response(status=204)
    response.headers["Tus-Version"] = TUS_VERSION
    response.headers["Tus-Extension"] = TUS_EXTENSIONS
    response.headers["Tus-Max-Size"] = str(current_app.config["MAX_FILE_BYTES"])
    return response


@bp.route("", methods=["POST"])
def create() -> Response:
    _require_version()
    if "Upload-Defer-Length" in request.headers:
        raise StagingError(400, "Bad request", gettext("Upload-Defer-Length is not supported; send Upload-Length."))
    length = _whole_number("Upload-Length")
    metadata = _metadata()
    upload = staging.create(staging.session_owner(create=True), metadata.get("filename"), length)
    response = Response(status=201)
    response.headers["Location"] = url_for("tus.resource", upload_id=upload.id)
    response.headers["Upload-Expires"] = http_date(upload.expires_at)
    return response


@bp.route("/<upload_id>", methods=["HEAD"], endpoint="resource")
def head(upload_id: str) -> Response:
    _require_version()
    upload = _owned(upload_id)
    response = Response(status=200)
    response.headers["Upload-Length"] = str(upload.length)
    return _upload_headers(upload, response)


@bp.route("/<upload_id>", methods=["PATCH"])
def patch(upload_id: str) -> Response:
    _require_version()
    upload = _owned(upload_id)
    if request.mimetype != OFFSET_CONTENT_TYPE:
        raise StagingError(415, "Unsupported Media Type",
                           gettext("Send the bytes as %(type)s.", type=OFFSET_CONTENT_TYPE))
    offset = _whole_number("Upload-Offset")
    # The body arrives at the client's pace: not inside a transaction holding SQLite's
    # write lock (append's update is conditional on the offset read here).
    release_snapshot(db.session)
    upload = staging.append(
        upload, request.stream, offset=offset, content_length=request.content_length, storage=get_storage()
    )
    return _upload_headers(upload, Response(status=204))


@bp.route("/<upload_id>", methods=["DELETE"])
def terminate(upload_id: str) -> Response:
    _require_version()
    staging.delete(_owned(upload_id), get_storage())
    return Response(status=204)
