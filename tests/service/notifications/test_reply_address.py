"""The per-case reply address and Message-ID: each tells its case back, only when its
signature (SECRET_KEY) holds, whatever a mail server does to the letters' case."""
from __future__ import annotations

import pytest
from flask import Flask

from service import config
from service.notifications import reply_address


@pytest.fixture
def ctx(app: Flask):
    with app.app_context():
        yield app


def _flip_last(text: str) -> str:
    return text[:-1] + ("b" if text[-1] != "b" else "c")


def test_an_address_tells_its_case_back(ctx):
    address = reply_address.address_for(1234)
    assert address.startswith("reply+") and address.endswith("@medtour.example")
    assert len(address.partition("@")[0]) <= 64  # RFC 5321's limit of a local part
    assert reply_address.case_id_from_address(address) == 1234
    assert reply_address.case_id_from_address(address.upper()) == 1234
    assert reply_address.case_id_from_address(f"Medtour <{address}>") == 1234


def test_a_tampered_or_foreign_address_tells_nothing(ctx):
    address = reply_address.address_for(1234)
    local, _, domain = address.partition("@")
    signature = local.partition("-")[2]
    assert reply_address.case_id_from_address(address.replace("+1234-", "+1235-")) is None
    assert reply_address.case_id_from_address(f"{_flip_last(local)}@{domain}") is None
    assert reply_address.case_id_from_address(f"{local}@elsewhere.example") is None
    assert reply_address.case_id_from_address(f"reply+1234-{signature[:-4]}@{domain}") is None
    for address in ("reply+forged@medtour.example", "reply+@medtour.example", "no-reply@medtour.example", "", "@"):
        assert reply_address.case_id_from_address(address) is None


def test_another_secret_key_does_not_verify(ctx):
    address = reply_address.address_for(7)
    ctx.config["SECRET_KEY"], original = "another-key", ctx.config["SECRET_KEY"]
    try:
        assert reply_address.case_id_from_address(address) is None
    finally:
        ctx.config["SECRET_KEY"] = original


def test_each_message_id_is_new_and_tells_its_case_back(ctx):
    first, second = reply_address.message_id_for(42), reply_address.message_id_for(42)
    assert first != second
    assert first.startswith("<") and first.endswith("@medtour.example>")
    assert reply_address.case_id_from_message_ids([first]) == 42
    assert reply_address.case_id_from_message_ids(["<CAF1x@mail.gmail.com>", second.upper()]) == 42


def test_a_tampered_message_id_tells_nothing(ctx):
    ours = reply_address.message_id_for(42)
    assert reply_address.case_id_from_message_ids([ours.replace("<case.42.", "<case.43.")]) is None
    assert reply_address.case_id_from_message_ids([_flip_last(ours[:-len("@medtour.example>")]) + "@medtour.example>"]) is None
    assert reply_address.case_id_from_message_ids([ours.replace("@medtour.example", "@elsewhere.example")]) is None
    # The address's signature cannot pass for a Message-ID's (salts of their own).
    assert reply_address.case_id_from_message_ids([f"<{reply_address.address_for(42)}>"]) is None
    assert reply_address.case_id_from_message_ids([]) is None


def test_headers_for_a_patient_e_mail(ctx):
    headers = reply_address.headers_for(9)
    assert set(headers) == {"Reply-To", "Message-ID"}
    assert reply_address.case_id_from_address(headers["Reply-To"]) == 9
    assert reply_address.case_id_from_message_ids([headers["Message-ID"]]) == 9


def test_mail_in_domain_defaults_to_the_mail_from_domain(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_FROM", "Agency <hello@Agency.example.com>")
    monkeypatch.delenv("MAIL_IN_DOMAIN", raising=False)
    monkeypatch.delenv("MAIL_IN_PORT", raising=False)
    monkeypatch.delenv("MAIL_IN_HOST", raising=False)
    loaded = config.load(str(tmp_path))
    assert (loaded["MAIL_IN_DOMAIN"], loaded["MAIL_IN_HOST"], loaded["MAIL_IN_PORT"]) == (
        "agency.example.com", "127.0.0.1", 2525)
    monkeypatch.setenv("MAIL_IN_DOMAIN", "replies.agency.example.com")
    monkeypatch.setenv("MAIL_IN_PORT", "2626")
    loaded = config.load(str(tmp_path))
    assert (loaded["MAIL_IN_DOMAIN"], loaded["MAIL_IN_PORT"]) == ("replies.agency.example.com", 2626)
