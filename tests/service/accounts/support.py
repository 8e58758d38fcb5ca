"""Shared by the account tests: every test starts with no sign-in attempts counted (the
limiter's memory storage lives as long as the session-wide app)."""
from __future__ import annotations

import pytest

from service.throttling import limiter_for


@pytest.fixture(autouse=True)
def fresh_limits(app):
    limiter_for(app).reset()
    yield
    limiter_for(app).reset()

