"""Error pages for people and problem+json for the API, never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, Response, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service import i18n
from service.i18n import N_, gettext
from service.problems import problem
from service.uploads import human_size

log = logging.getLogger(__name__)

# HTTP error names as people read them (English msgids: Werkzeug's own names).
_TITLES = {404: N_("Not Found")}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _patient_form() -> bool:
    """The request form (and the uploads behind it): its errors speak the page's language."""
    return request.path.startswith(("/requests/", "/uploads"))


def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int] | Response:
    max_files = current_app.config["MAX_FILES"]
    if _wants_json():
        max_file = human_size(current_app.config["MAX_FILE_BYTES"])
        return problem(413, "Request too large", (
            f"The request is larger than the service accepts: at most {max_files} files "
            f"of {max_file} each, plus the form."
        ))
    if _patient_form():
        i18n.use_page_language(switch=False)
    detail = gettext(
        "The request is larger than the service accepts: at most %(max_files)s files "
        "of %(max_file)s each, plus the form.",
        max_files=max_files, max_file=i18n.format_size(current_app.config["MAX_FILE_BYTES"]),
    )
    return render_template("errors/413.html", detail=detail), 413


def _csrf(exc: CSRFError) -> tuple[str, int]:
    if _patient_form():
        i18n.use_page_language(switch=False)
    return render_template("errors/error.html", code=400, title=gettext("Form expired"),
                           detail=gettext("The form expired or was sent from another page. "
                                          "Go back, reload the page and send it again.")), 400


def _http(exc: HTTPException) -> tuple[str, int] | Response:
    code = exc.code or 500
    if _wants_json():
        return problem(code, exc.name, exc.description)
    # A page in the patient's language (a status link's 404) names the error in it too.
    title = gettext(_TITLES[code]) if code in _TITLES else exc.name
    return render_template("errors/error.html", code=code, title=title, detail=exc.description), code


def _unexpected(exc: Exception) -> tuple[str, int] | Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    if _wants_json():
        return problem(500, "Internal Server Error", "Something went wrong on our side; try again later.")
    return render_template("errors/error.html", code=500, title="Something went wrong",
                           detail="Something went wrong on our side; nothing you typed is lost if "
                                  "you go back. Try again in a few minutes."), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
