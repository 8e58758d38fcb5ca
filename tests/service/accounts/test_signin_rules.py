"""The sign-in rules that need no HTTP: where `next` may lead, the lockout wording, TOTP steps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from service.accounts import signin, totp


@pytest.mark.parametrize(("raw", "expected"), [
    ("/staff/cases?status=routed", "/staff/cases?status=routed"),
    ("/staff", "/staff"),
    (None, None),
    ("", None),
    ("https://medtour.test/staff/", None),
    ("//evil.example/staff/", None),
    ("/staff/\r\nSet-Cookie:x", None),
    ("/staff/../api/v1", None),
    ("/staffroom", None),
    ("/staff/logout", None),
    ("javascript:alert(1)", None),
])
def test_safe_next(raw, expected):
    assert signin.safe_next(raw) == expected


@pytest.mark.parametrize(("seconds", "words"), [(900, "15 minutes"), (61, "2 minutes"), (60, "1 minute"), (1, "1 minute")])
def test_lockout_message(seconds, words):
    assert signin.lockout_message(seconds) == f"Too many failed sign-ins. Try again in {words}."


def test_codes_match_within_one_step_either_side():
    secret = pyotp.random_base32()
    at = datetime(2026, 6, 1, 12, 0, 10, tzinfo=timezone.utc)
    step = int(at.timestamp()) // totp.STEP_SECONDS
    code = pyotp.TOTP(secret).at(at)
    assert totp.matched_step(secret, code, at) == step
    assert totp.matched_step(secret, code, at + timedelta(seconds=30)) == step
    assert totp.matched_step(secret, code, at - timedelta(seconds=30)) == step
    assert totp.matched_step(secret, code, at + timedelta(seconds=60)) is None


def test_a_code_is_fresh_only_after_every_code_usable_at_the_last_sign_in():
    secret = pyotp.random_base32()
    signed_in_at = datetime(2026, 6, 1, 12, 0, 10, tzinfo=timezone.utc)
    # Every code accepted at that sign-in is refused afterwards...
    for offset in (-30, 0, 30):
        code = pyotp.TOTP(secret).at(signed_in_at + timedelta(seconds=offset))
        step = totp.matched_step(secret, code, signed_in_at)
        assert not signed_in_at < totp.fresh_after(step)
    # ... and the first code that could not have been is accepted.
    later = signed_in_at + timedelta(seconds=60)
    step = totp.matched_step(secret, pyotp.TOTP(secret).at(later + timedelta(seconds=30)), later)
    assert signed_in_at < totp.fresh_after(step)


@pytest.mark.parametrize(("config", "uri"), [
    ({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:6379/0"}, "memory://"),
    ({"REDIS_URL": "redis://redis.internal:6379/0"}, "redis://redis.internal:6379/0"),
    ({"REDIS_URL": "unix:///srv/medtour/instance/redis/redis.sock"}, "redis+unix:///srv/medtour/instance/redis/redis.sock"),
])
def test_rate_limits_are_kept_in_the_apps_redis_except_in_tests(config, uri):
    from service.throttling import storage_uri

    assert storage_uri(config) == uri
