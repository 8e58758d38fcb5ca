"""Error pages for people and problem+json for the API, never a stack trace."""
from __future__ import annotations

import logging
from typing import Final

from flask import Flask, Response, current_app, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from service import i18n
from service.i18n import N_, gettext
from service.i18n import human_size
from service.problems import problem
from service.request_body import FieldTooLong, Request, TooManyFields

log = logging.getLogger(__name__)

# HTTP error names as people read them (English msgids: Werkzeug's own names).
_TITLES = {404: N_("Not Found")}

# Seconds a client is told to wait when the database is unreachable: a restart or a
# failover takes about this long, and the pool's pre-ping reconnects on the next request.
DATABASE_RETRY_AFTER: Final = 30


def _wants_json() -> bool:
    return request.path.startswith("/api/")


# The error page of each console, in its own layout and navigation (English, as those
# consoles are); everywhere else the public one, in the page's language.
_CONSOLE_PAGES: Final = (("/staff", "errors/staff_error.html"), ("/clinic", "errors/clinic_error.html"))
_PUBLIC_PAGE: Final = "errors/error.html"
# Werkzeug's words for a bare abort(403), replaced in the consoles by what to do.
_FORBIDDEN_DETAIL: Final = "Your account cannot open this page. Ask an administrator if you need it."


def _console_page() -> str | None:
    """The staff console's or the clinic portal's error page for this request, if under one."""
    for prefix, template in _CONSOLE_PAGES:
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return template
    return None


def _error_page(code: int, title: str, detail: str) -> str:
    console = _console_page()
    if console:
        try:
            return render_template(console, code=code, title=title, detail=detail)
        except SQLAlchemyError:
            raise  # the database handler has its own plain fallback
        except Exception:  # noqa: BLE001 - an error page must not fail: the public one instead
            log.exception("the console's error page failed on %s %s", request.method, request.path)
    return render_template(_PUBLIC_PAGE, code=code, title=title, detail=detail)


def _patient_form() -> bool:
    """The request form (and the uploads behind it): its errors speak the page's language."""
    return request.path.startswith(("/requests/", "/uploads"))


def _form_refused(status: int, *, title: str, heading: str, detail: str, advice: str) -> tuple[str, int]:
    """A body refused before its form could read it: what was wrong and what to do, on
    a page of its own (the form cannot be shown again: nothing of it was read)."""
    if _console_page():
        return _error_page(status, heading, f"{detail} {advice}"), status
    back_url = url_for("requests.new") if request.path.startswith("/requests/") else None
    return render_template("errors/form_refused.html", title=title, heading=heading, detail=detail,
                           advice=advice, back_url=back_url), status


def _too_large(exc: RequestEntityTooLarge) -> tuple[str, int] | Response:
    """The whole body is over MAX_CONTENT_LENGTH (Werkzeug's own 413, or a streamed body
    that ran past it): the files are what make a body that large."""
    max_files = current_app.config["MAX_FILES"]
    if _wants_json():
        max_file = human_size(current_app.config["MAX_FILE_BYTES"])
        return problem(413, "Request too large", (
            f"The request is larger than the service accepts: at most {max_files} files "
            f"of {max_file} each, plus the form."
        ))
    if _patient_form():
        i18n.use_page_language(switch=False)
    return _form_refused(
        413,
        title=gettext("Files too large"),
        heading=gettext("Your files are too large to send together"),
        detail=gettext(
            "The request is larger than the service accepts: at most %(max_files)s files "
            "of %(max_file)s each, plus the form.",
            max_files=max_files, max_file=i18n.format_size(current_app.config["MAX_FILE_BYTES"]),
        ),
        advice=gettext("Go back: what you typed is usually still in the form. Remove the largest files and send "
                       "again — you can add more files later from your status page."),
    )


def _field_too_long(exc: FieldTooLong) -> tuple[str, int] | Response:
    limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
    if _wants_json():
        return problem(413, "Text field too long",
                       f"A text field is longer than the service accepts: at most {human_size(limit)} per field.")
    if _patient_form():
        i18n.use_page_language(switch=False)
    return _form_refused(
        413,
        title=gettext("Text too long"),
        heading=gettext("A text field is too long to send"),
        detail=gettext("One of the text fields is longer than the service accepts: at most %(limit)s of text "
                       "per field.", limit=i18n.format_size(limit)),
        advice=gettext("Go back: what you typed is usually still in the form. Shorten the longest text and "
                       "send again."),
    )


def _too_many_fields(exc: TooManyFields) -> tuple[str, int] | Response:
    max_parts = current_app.config["MAX_FORM_PARTS"]
    if _wants_json():
        return problem(400, "Too many form fields",
                       f"The request has more form fields and files than the service accepts: at most "
                       f"{max_parts} in one request.")
    if _patient_form():
        i18n.use_page_language(switch=False)
    return _form_refused(
        400,
        title=gettext("Too many form fields"),
        heading=gettext("The form sent too many fields"),
        detail=gettext("The request has more fields and files than the service accepts: at most "
                       "%(max_parts)s in one form.", max_parts=i18n.format_integer(max_parts)),
        advice=gettext("Our forms have far fewer, so this did not come from the form as we serve it. Go back, "
                       "reload the form and send it again."),
    )


def _csrf(exc: CSRFError) -> tuple[str, int]:
    if _patient_form():
        i18n.use_page_language(switch=False)
    return _error_page(400, gettext("Form expired"),
                       gettext("The form expired or was sent from another page. "
                               "Go back, reload the page and send it again.")), 400


def _http(exc: HTTPException) -> tuple[str, int] | Response:
    code = exc.code or 500
    # The exception's own headers (Allow on 405, Retry-After, WWW-Authenticate) survive the page.
    headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
    if _wants_json():
        response = problem(code, exc.name, exc.description)
        response.headers.extend(headers)
        return response
    # A page in the patient's language (a status link's 404) names the error in it too.
    title = gettext(_TITLES[code]) if code in _TITLES else exc.name
    detail = exc.description
    if code == 403 and _console_page() and detail == type(exc).description:
        detail = _FORBIDDEN_DETAIL
    return _error_page(code, title, detail), code, headers


def _unexpected(exc: Exception) -> tuple[str, int] | Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    if _wants_json():
        return problem(500, "Internal Server Error", "Something went wrong on our side; try again later.")
    return _error_page(500, "Something went wrong",
                       "Something went wrong on our side; nothing you typed is lost if "
                       "you go back. Try again in a few minutes."), 500


def _database_down(exc: DBAPIError) -> bool:
    """The database went away (refused, restarted, dropped the connection), as opposed to
    a query the code got wrong."""
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def _database_unavailable(exc: SQLAlchemyError) -> tuple[str, int, dict[str, str]] | tuple[str, int] | Response:
    """503 with a retry hint, one log line and no stack trace; the session's transaction is
    rolled back so the next request starts clean on a fresh connection (pre-ping)."""
    if isinstance(exc, DBAPIError) and not _database_down(exc):
        return _unexpected(exc)
    cause = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip().splitlines()
    log.warning("database unavailable on %s %s: %s", request.method, request.path, cause[0] if cause else exc)
    _rollback_quietly()
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if _wants_json():
        response = problem(503, "Service Unavailable",
                           "The service cannot reach its database just now; nothing was recorded. "
                           f"Try again in {DATABASE_RETRY_AFTER} seconds.")
        response.headers.update(headers)
        return response
    if not request.path.startswith(("/staff", "/clinic")):
        i18n.use_page_language(switch=False)
    title = gettext("Temporarily unavailable")
    detail = gettext("The service cannot reach its records just now, so nothing was sent or saved. "
                     "Try again in a minute: what you typed is still in the page if you go back.")
    try:
        body = _error_page(503, title, detail)
    except SQLAlchemyError:
        # The page itself needed the database (a signed-in user's menu): plain words instead.
        _rollback_quietly()
        body = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1><p>{escape(detail)}</p>"
    return body, 503, headers


def _rollback_quietly() -> None:
    from service.extensions import db

    try:
        db.session.rollback()
    except SQLAlchemyError:
        log.debug("rollback after a lost database connection failed too", exc_info=True)


def init_app(app: Flask) -> None:
    # The request class whose form parser raises the refusals below, each for its own limit.
    app.request_class = Request
    app.register_error_handler(TooManyFields, _too_many_fields)
    app.register_error_handler(FieldTooLong, _field_too_long)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(DBAPIError, _database_unavailable)
    app.register_error_handler(PoolTimeout, _database_unavailable)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
