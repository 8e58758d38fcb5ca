"""Configuration from environment variables, with embedded defaults that run on a
fresh machine (12-factor). Everything the app reads is listed in `DEFAULTS`/`load`."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from service import limits


def _instance_default(instance_path: str, name: str) -> Path:
    path = Path(instance_path)
    path.mkdir(parents=True, exist_ok=True)
    return path / name


def _secret_key(instance_path: str) -> str:
    """A stable key for development: generated once and kept in `instance/` so
    sessions and signed links survive a restart. Production sets SECRET_KEY."""
    key_file = _instance_default(instance_path, "secret_key")
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise RuntimeError(f"{name} must be true or false, got {raw!r}")


# Where `make run` binds the web server (HOST, PORT) unless the environment says otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = "8000"


def local_base_url(env: Mapping[str, str]) -> str:
    """BASE_URL's default: the address `make run` serves on (HOST and PORT), so that with
    `PORT=8123` the links in emails, PDFs and the demo's output point at port 8123 too.
    A wildcard HOST (listening everywhere) is reached on loopback."""
    host = env.get("HOST") or DEFAULT_HOST
    if host in ("0.0.0.0", "::", "[::]"):
        host = DEFAULT_HOST
    return f"http://{host}:{env.get('PORT') or DEFAULT_PORT}"


# Where `flask mail-in` listens unless MAIL_IN_HOST/MAIL_IN_PORT say otherwise.
DEFAULT_MAIL_IN_HOST = "127.0.0.1"
DEFAULT_MAIL_IN_PORT = 2525


def mail_domain(mail_from: str) -> str:
    """The domain of an address such as `Medtour <no-reply@medtour.example>`."""
    return parseaddr(mail_from)[1].rpartition("@")[2].lower() or "localhost"


# Served over https means deployed: no embedded default may stand in for these there.
REQUIRED_WHEN_DEPLOYED = ("SECRET_KEY", "DATABASE_URL")


def _require_deployed_settings(env: Mapping[str, str], base_url: str) -> None:
    """A generated key or a SQLite file next to the code would work in production and
    quietly lose sessions or data on the next deploy; refuse to start instead."""
    if not base_url.startswith("https://"):
        return
    missing = [name for name in REQUIRED_WHEN_DEPLOYED if not env.get(name)]
    if missing:
        raise RuntimeError(
            f"BASE_URL is {base_url}, so the service is deployed: set {' and '.join(missing)} "
            "in the environment (secrets are never read from files in the code tree)"
        )


def load(instance_path: str) -> dict[str, Any]:
    """Read the environment once, at app creation (never at import)."""
    env = os.environ
    _require_deployed_settings(env, env.get("BASE_URL", ""))
    database_url = env.get("DATABASE_URL") or (
        "sqlite:///" + str(_instance_default(instance_path, "medtour.db"))
    )
    storage_url = env.get("STORAGE_URL") or (
        "file://" + str(_instance_default(instance_path, "storage"))
    )
    base_url = (env.get("BASE_URL") or local_base_url(env)).rstrip("/")
    max_files = _int("MAX_FILES", limits.MAX_FILES)
    max_file_bytes = _int("MAX_FILE_BYTES", limits.MAX_FILE_BYTES)
    mail_from = env.get("MAIL_FROM", "Medtour <no-reply@medtour.example>")
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # On SQLite, how long a transaction that may write waits for the lock of the one
        # writer before it gives up and its request is answered 503 (seconds).
        "SQLITE_BUSY_TIMEOUT": 15.0,
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "STORAGE_URL": storage_url,
        "S3_SSE": env.get("S3_SSE", "AES256"),
        "S3_KMS_KEY_ID": env.get("S3_KMS_KEY_ID") or None,
        "DOWNLOAD_URL_TTL": _int("DOWNLOAD_URL_TTL", 300),
        "MAX_FILES": max_files,
        "MAX_FILE_BYTES": max_file_bytes,
        "MAX_CONTENT_LENGTH": max_files * max_file_bytes + limits.FORM_OVERHEAD_BYTES,
        # The form parser's limits; service.request_body says which one a refused body broke.
        "MAX_FORM_PARTS": limits.MAX_FORM_PARTS,
        "MAX_FORM_MEMORY_SIZE": limits.MAX_TEXT_FIELD_BYTES,
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        # Where people reach the service; used for links in emails and PDFs made by workers.
        "BASE_URL": base_url,
        "ROUTING_TOP_N": _int("ROUTING_TOP_N", 3),
        # A clinic that lets its 72 h answer clock run out: refer the case to the
        # next-ranked clinic not yet referred (service.cases.referral_clock).
        "ROUTING_ESCALATE": _bool("ROUTING_ESCALATE", True),
        # Lifetime of the attachment links printed in a clinic's dossier (at most 7 days,
        # the ceiling of presigned S3 URLs); clinics usually answer within three days.
        "DOSSIER_LINK_TTL": _int("DOSSIER_LINK_TTL", 72 * 3600),
        # Outgoing email: smtp://user:pass@host:587?starttls=1 (smtps:// for implicit TLS);
        # unset, messages are written to the log instead of sent.
        "MAIL_URL": env.get("MAIL_URL") or None,
        "MAIL_FROM": mail_from,
        # Patients' e-mail replies: the domain of the per-case reply addresses (the
        # MAIL_FROM domain unless set) and where `flask mail-in` listens for them
        # (behind the agency's MX in production: docs/mail-in.md).
        "MAIL_IN_DOMAIN": env.get("MAIL_IN_DOMAIN") or mail_domain(mail_from),
        "MAIL_IN_HOST": env.get("MAIL_IN_HOST") or DEFAULT_MAIL_IN_HOST,
        "MAIL_IN_PORT": _int("MAIL_IN_PORT", DEFAULT_MAIL_IN_PORT),
        # Where patients and clinics write to a person; printed in letters and emails.
        "CONTACT_EMAIL": env.get("CONTACT_EMAIL", "care@medtour.example"),
        # Backoff between attempts of a failing background job, in seconds; its length
        # is the number of retries before the job shows on the case timeline as failed.
        "JOB_RETRY_INTERVALS": [5, 30, 120, 600],
        "WTF_CSRF_TIME_LIMIT": None,
        # Staff sessions: HttpOnly, SameSite=Lax, Secure whenever the service is served
        # over https (BASE_URL), signed out after this much inactivity, and after this
        # many hours however active (service/accounts/sessions.py).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", base_url.startswith("https://")),
        "STAFF_SESSION_IDLE_MINUTES": _int("STAFF_SESSION_IDLE_MINUTES", 30),
        "STAFF_SESSION_MAX_HOURS": _int("STAFF_SESSION_MAX_HOURS", 12),
        # Admins must use a TOTP second factor when this is on.
        "STAFF_ADMIN_TOTP": _bool("STAFF_ADMIN_TOTP", False),
        # Assign new cases to coordinators automatically, balanced by open load and capacity.
        "AUTO_ASSIGN": _bool("AUTO_ASSIGN", True),
        # Closed cases have their personal data erased this many days after closing
        # (the worker's hourly sweep, or `cases retention`); 0 turns retention off.
        "RETENTION_DAYS": _int("RETENTION_DAYS", 730),
        # Per-client-address limits (Flask-Limiter, on REDIS_URL): off only for a load test
        # from one address; the per-account sign-in lockouts hold either way. (Not Flask-
        # Limiter's own RATELIMIT_ENABLED: that would also stop the per-account counters.)
        "RATELIMIT_PER_ADDRESS": _bool("RATELIMIT_ENABLED", True),
        # Requests a client address may submit (the form and the API together).
        "SUBMISSION_RATE_LIMIT": env.get("SUBMISSION_RATE_LIMIT") or "20 per hour",
        # Strict-Transport-Security max-age, sent on responses served over https.
        "HSTS_MAX_AGE": _int("HSTS_MAX_AGE", 365 * 24 * 3600),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none,
        # the client's address and scheme are the connection's).
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
        # The trip (issue 18): companions a patient may bring (India's medical-attendant
        # visa allows two), and the agency as its letters and invoices name it.
        "MAX_COMPANIONS": _int("MAX_COMPANIONS", 2),
        "AGENCY_NAME": env.get("AGENCY_NAME", "Medtour Patient Services GmbH (demo)"),
        "AGENCY_ADDRESS": env.get("AGENCY_ADDRESS", "Friedrichstraße 100, 10117 Berlin, Germany"),
        "AGENCY_REGISTRATION": env.get("AGENCY_REGISTRATION", "Amtsgericht Charlottenburg HRB 000000 (demo)"),
        "AGENCY_PHONE": env.get("AGENCY_PHONE", "+49 30 000000"),
        # Where deposits are paid (a bank transfer; no card is processed).
        "AGENCY_BANK_NAME": env.get("AGENCY_BANK_NAME", "Demo Bank"),
        "AGENCY_IBAN": env.get("AGENCY_IBAN", "DE89370400440532013000"),
        "AGENCY_BIC": env.get("AGENCY_BIC", "COBADEFFXXX"),
        # Who signs a visa letter when the case has no coordinator with a name.
        "AGENCY_COORDINATOR": env.get("AGENCY_COORDINATOR", "Elena Hoffmann"),
        # 1: a new case is routed to clinics as soon as it arrives, a coordinator reviewing it
        # alongside; 0: it waits for a coordinator to route it from its page.
        "AUTO_ROUTE": _bool("AUTO_ROUTE", True),
        # Where people write about their personal data (the privacy notice's contact);
        # unset, CONTACT_EMAIL (service.trust.agency).
        "PRIVACY_EMAIL": env.get("PRIVACY_EMAIL") or None,
    }


def finalize(config: dict[str, Any]) -> None:
    """Keep derived settings consistent when a caller overrides the limits."""
    config["MAX_CONTENT_LENGTH"] = (
        config["MAX_FILES"] * config["MAX_FILE_BYTES"] + limits.FORM_OVERHEAD_BYTES
    )
