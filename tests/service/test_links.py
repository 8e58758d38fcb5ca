"""Links made outside a request follow the route map and BASE_URL."""
from __future__ import annotations

import pytest

from service.links import external_url


@pytest.fixture
def base_url(app):
    before = app.config["BASE_URL"]
    yield lambda value: app.config.update(BASE_URL=value)
    app.config["BASE_URL"] = before


def test_a_link_keeps_the_scheme_port_and_path_prefix_of_base_url(app_ctx, base_url):
    base_url("https://agency.example:8443/medtour")
    assert external_url("status.show", token="abc") == "https://agency.example:8443/medtour/s/abc"
    assert external_url("staff_case.show", reference="MT-2026-000001") == (
        "https://agency.example:8443/medtour/staff/cases/MT-2026-000001"
    )


def test_values_are_quoted_and_a_missing_query_value_is_left_out(app_ctx, base_url):
    base_url("http://127.0.0.1:8123")
    assert external_url("status.show", token="a b/c") == "http://127.0.0.1:8123/s/a%20b/c"
    assert external_url("clinic_auth.link", token="t", next=None) == "http://127.0.0.1:8123/clinic/login/link/t"
    assert external_url("clinic_auth.link", token="t", next="/clinic/referrals/4") == (
        "http://127.0.0.1:8123/clinic/login/link/t?next=/clinic/referrals/4"
    )
