"""service.trust: the consent wording pinned to its version, and the agency's facts as
the public pages print them, read from configuration."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from flask import Flask

from service import i18n, trust
from service.cases import sla, staging

# Each version of the consent wording, and the SHA-256 of its text in each language.
# Changing the wording or a translation is a decision a patient's record depends on:
# give the new text a new CONSENT_VERSION (and CONSENT_DATE), then add its lines here.
# Never edit a line: a case recorded with a version must keep meaning that text.
PINNED: dict[tuple[str, str], str] = {
    ("2026-12", "en"): "b91f3866e6260a48c8ab9839bb820a9d3a2b3c02cf2dc0406fef3a6cac157a1b",
    ("2026-12", "ru"): "c9504b0655ce1afc2b0210d0e9351eeb061390f37323e5df69b0023d7c8fd176",
}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_consent_wording_in_every_language_is_pinned_to_its_version(app: Flask):
    changed = []
    with app.test_request_context():
        for language in sorted(i18n.languages()):
            i18n.use_language(language)
            wording = trust.consent().text
            if PINNED.get((trust.CONSENT_VERSION, language)) != _digest(wording):
                changed.append(f"{language}: {_digest(wording)} {wording!r}")
    assert not changed, (
        f"The consent wording of version {trust.CONSENT_VERSION} is not the one pinned for it. "
        "If you changed it on purpose, give it a new CONSENT_VERSION and CONSENT_DATE in service/trust.py "
        "and pin the new version's hashes in PINNED:\n" + "\n".join(changed)
    )


def test_the_version_fits_its_column_and_the_text_is_translated(app: Flask):
    assert len(trust.CONSENT_VERSION) <= 20
    with app.test_request_context():
        i18n.use_language("ru")
        consent = trust.consent()
    assert consent.version == trust.CONSENT_VERSION and consent.since == trust.CONSENT_DATE
    assert consent.text.startswith("Я согласен")


def test_the_agency_is_read_from_configuration(app: Flask, monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "AGENCY_NAME": "Harbour Care Ltd", "AGENCY_ADDRESS": "1 Quay Street, Cork, Ireland",
        "AGENCY_REGISTRATION": "CRO 123456", "AGENCY_PHONE": "+353 (21) 400-1234",
        "CONTACT_EMAIL": "hello@harbour.example", "RETENTION_DAYS": 90, "ROUTING_TOP_N": 5,
        "ROUTING_ESCALATE": False, "AUTO_ROUTE": False, "STORAGE_URL": "s3://bucket/prefix", "MAX_COMPANIONS": 1,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "PRIVACY_EMAIL", None)
    with app.app_context():
        agency = trust.agency()
        assert (agency.name, agency.address, agency.registration) == (
            "Harbour Care Ltd", "1 Quay Street, Cork, Ireland", "CRO 123456")
        assert agency.email == agency.privacy_email == "hello@harbour.example"
        assert agency.phone_uri == "tel:+353214001234"
        assert (agency.retention_days, agency.clinics_referred, agency.max_companions) == (90, 5, 1)
        assert not agency.escalates and not agency.routes_at_once and agency.cloud_storage
        monkeypatch.setitem(app.config, "PRIVACY_EMAIL", "dpo@harbour.example")
        monkeypatch.setitem(app.config, "STORAGE_URL", "file:///srv/medtour")
        agency = trust.agency()
        assert agency.privacy_email == "dpo@harbour.example" and agency.email == "hello@harbour.example"
        assert not agency.cloud_storage


def test_the_durations_the_notice_states_are_the_code_s_own(app: Flask, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sla, "CLINIC_ANSWER", sla.Clock("clinic_answer", "Clinic answer", timedelta(hours=48)))
    monkeypatch.setattr(staging, "UPLOAD_TTL", timedelta(hours=6))
    with app.app_context():
        agency = trust.agency()
    assert (agency.clinic_answer_hours, agency.unsent_upload_hours) == (48, 6)
