"""Getting back to the status page without the permanent link: the single-use opener
each e-mail carries (`/s/open/<opener>`), "I lost my link" (`/s/lost`) and what lets a
browser in after an opener.

An opener, once used, lets this browser see its case for `STATUS_ACCESS_HOURS`: a random
access key kept in the signed session cookie, with the case and a fingerprint of the
case's status token, is the `<token>` of every `/s/<token>` address (`status.py`'s
`_case_or_404` accepts it), so every page and action of the status page works unchanged.
The key is worthless without this browser's cookie, and replacing the status token
(rotation, erasure) changes the fingerprint, which shuts every such browser out.

`/s/lost` answers the same page, byte for byte, whatever the address: it only records
the job (`link_recovery.ask_for_links`), and the worker looks the address up. It is
rate-limited per address (hashed) and per client address, in the app's limiter."""
from __future__ import annotations

import hashlib
import secrets
import time
from hmac import compare_digest
from typing import Final

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from werkzeug.wrappers import Response

from forms.lost_link import LostLinkForm
from service import i18n, outbox, throttling
from service.cases import link_recovery, openers
from service.cases.tokens import hash_token
from service.extensions import db
from service.i18n import ngettext
from service.limits import (
    LOST_LINK_PER_ADDRESS,
    LOST_LINK_PER_CLIENT,
    OPENER_TTL_DAYS,
    ROTATE_PER_CLIENT,
    STATUS_ACCESS_HOURS,
)
from service.models import Case

bp = Blueprint("status_access", __name__)

_SESSION_KEY: Final = "status_access"
# Cases one browser may hold open at once (a patient with several requests); the oldest goes first.
MAX_GRANTS: Final = 5
LOST_ENDPOINTS: Final = ("status_access.lost",)


@bp.after_request
def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_template_filter("masked_email")
def _masked_email(email: str) -> str:
    return link_recovery.masked(email)


def _fingerprint(case: Case) -> str:
    """Tells the case's current status token from any earlier one, without being it."""
    return hash_token("status-access:" + case.token_hash)[:32]


def _grants(now: float) -> dict[str, list]:
    stored = session.get(_SESSION_KEY)
    if not isinstance(stored, dict):
        return {}
    return {key: entry for key, entry in stored.items()
            if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], int) and entry[2] > now}


def grant(case: Case) -> str:
    """Let this browser see `case` for STATUS_ACCESS_HOURS; the key for its `/s/<key>` address."""
    now = time.time()
    key = secrets.token_urlsafe(32)
    grants = _grants(now)
    grants[key] = [case.id, _fingerprint(case), int(now) + STATUS_ACCESS_HOURS * 3600]
    newest = sorted(grants.items(), key=lambda item: item[1][2], reverse=True)[:MAX_GRANTS]
    session[_SESSION_KEY] = dict(newest)
    return key


def case_for_access_key(key: str, *, for_update: bool = False) -> Case | None:
    """The case this browser was let in to under `key`, while the grant lasts and the
    case's status token is the one it was granted under; else None."""
    if _SESSION_KEY not in session:
        return None
    entry = _grants(time.time()).get(key)
    if entry is None or not isinstance(entry[0], int) or not isinstance(entry[1], str):
        return None
    case = db.session.get(Case, entry[0], with_for_update=for_update)
    if case is None or case.erasure_requested_at is not None or not compare_digest(_fingerprint(case), entry[1]):
        return None
    return case


@bp.app_template_global("opened_by_opener")
def opened_with_access_key(token: str) -> bool:
    """Whether the status page at `token` was opened through an opener (so it says the
    address will not last), rather than with the permanent link."""
    return token in _grants(time.time())


bp.add_app_template_global(STATUS_ACCESS_HOURS, "status_access_hours")


@bp.get("/s/open/<opener>")
def open_link(opener: str) -> Response | tuple[str, int]:
    """The link in an e-mail: used up, it lets this browser in and goes to the status
    page. A HEAD (link checkers, some mail scanners) does not use it up."""
    if request.method == "HEAD":
        return Response(status=200)
    case = openers.open(opener)
    if case is None:
        db.session.rollback()
        i18n.use_page_language()
        return render_template("status/link_refused.html", form=LostLinkForm(formdata=None),
                               days=OPENER_TTL_DAYS), 410
    key = grant(case)
    outbox.commit()
    return redirect(url_for("status.show", token=key), code=303)


def _lost_page(form: LostLinkForm, status: int = 200, error: str | None = None) -> tuple[str, int]:
    return render_template("status/lost.html", form=form, error=error), status


@bp.route("/s/lost", methods=["GET", "POST"])
def lost() -> tuple[str, int]:
    """Ask for the links again by e-mail address. Every valid POST does the same work
    and gets the same page, whether or not the address has requests."""
    i18n.use_page_language()
    form = LostLinkForm()
    if request.method == "GET":
        return _lost_page(form)
    if not form.validate_on_submit():
        return _lost_page(form, 422)
    link_recovery.ask_for_links(form.email.data)
    outbox.commit()
    return render_template("status/lost_sent.html", days=OPENER_TTL_DAYS), 200


@bp.errorhandler(RateLimitExceeded)
def _too_many(_exc: RateLimitExceeded) -> Response:
    """The lost-link form again, in the page's language, with when to try again."""
    seconds = throttling.seconds_until_reset()
    i18n.use_page_language()
    minutes = max(1, -(-seconds // 60))
    error = ngettext(
        "Links were asked for too often. Nothing was sent; try again in %(num)d minute.",
        "Links were asked for too often. Nothing was sent; try again in %(num)d minutes.",
        minutes,
    )
    body, status = _lost_page(LostLinkForm(formdata=None), 429, error)
    return Response(body, status, headers={"Retry-After": str(seconds)}, mimetype="text/html")


def _address_key() -> str:
    """The per-address counter's key: a hash, so Redis never holds the address."""
    email = link_recovery.normalized(request.form.get("email", ""))
    return hashlib.sha256(("lost-link:" + email).encode()).hexdigest()


def _asked(response: Response) -> bool:
    """Only a form that was accepted (and so may send an e-mail) uses up an allowance."""
    return response.status_code == 200


def init_limits(app: Flask) -> None:
    """The limits on asking for links and on rotation (after `throttling.init_app`,
    which makes the limiter, and once the endpoints are registered)."""
    throttling.limit_posts(app, LOST_LINK_PER_CLIENT, "lost-link-client", LOST_ENDPOINTS, deduct_when=_asked)
    throttling.limit_posts(app, LOST_LINK_PER_ADDRESS, "lost-link-address", LOST_ENDPOINTS,
                           deduct_when=_asked, key_func=_address_key)
    throttling.limit_posts(app, ROTATE_PER_CLIENT, "status-rotate", ("status.rotate",))
