from tests.service.accounts.support import fresh_limits  # noqa: F401
