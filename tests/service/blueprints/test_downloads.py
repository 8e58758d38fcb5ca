"""Downloads of a patient's files, by staff, by the clinic and by the patient, on the
local store and on S3: always `Content-Disposition: attachment` with a header-safe name
(ASCII fallback plus RFC 5987 `filename*`), the type detected from the bytes at intake
(never what the browser claimed), `nosniff`; the links expire after DOWNLOAD_URL_TTL and
an expired or tampered link is refused with a clear page."""
from __future__ import annotations

import hashlib
import io
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from sqlalchemy import select

from service.accounts.roles import ADMIN
from service.cases import derivatives
from service.extensions import db
from service.models import Attachment, Case, Referral
from tests.fixtures import files
from tests.fixtures.cases import post_request
from tests.fixtures.staff import make_user, sign_in
from tests.service.blueprints.clinic_referrals import clinic_user, two_clinics
from tests.service.test_security import assert_secure_headers

# A PNG the browser claimed was a PDF, under a name full of header trouble.
NAME = "МРТ колена; копия, 100% (1).pdf"
CLAIMED = "application/pdf"
DETECTED = "image/png"
# attachment; filename="<printable ASCII, no quote or backslash>"; filename*=UTF-8''<RFC 5987 attr-chars>
SAFE_DISPOSITION = re.compile(r"""attachment; filename="[ !#-\[\]-~]+"; filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+""")


@dataclass(frozen=True)
class Uploaded:
    case: Case
    token: str
    attachment: Attachment
    referral: Referral


@pytest.fixture(params=["file", "s3"])
def store(request, storage):
    return request.getfixturevalue("s3_storage") if request.param == "s3" else storage


@pytest.fixture
def uploaded(client, store) -> Uploaded:
    case, location = post_request(client, files=[(io.BytesIO(files.png()), NAME, CLAIMED)])
    clinic_a, _ = two_clinics()
    referral = Referral(case=case, clinic=clinic_a, score=1.0, reasons=[], status="pending")
    db.session.add(referral)
    db.session.commit()
    attachment = db.session.scalars(select(Attachment).where(Attachment.case_id == case.id)).one()
    derivatives.derive(attachment, store, secret="test")  # the clinic downloads the worker's copy
    db.session.commit()
    return Uploaded(case, urlsplit(location).path.removeprefix("/s/"), attachment, referral)


def _link(app, client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 303, (path, response.status_code)
    return response.location


def _fetch(client, url: str):
    """The download as the browser gets it: from the app (local store) or from S3."""
    if url.startswith("/files/") or urlsplit(url).path.startswith("/files/"):
        return client.get(urlsplit(url).path)
    return requests.get(url, timeout=10)


def _routes(app, uploaded: Uploaded) -> dict[str, tuple[object, str]]:
    """Who downloads, with a client signed in as them, and the route they use."""
    staff = app.test_client()
    sign_in(staff, make_user(ADMIN))
    clinic = app.test_client()
    sign_in(clinic, clinic_user(uploaded.referral.clinic))
    a = uploaded.attachment
    return {
        "patient": (app.test_client(), f"/s/{uploaded.token}/files/{a.id}"),
        "staff": (staff, f"/staff/cases/{uploaded.case.reference}/attachments/{a.id}"),
        "clinic": (clinic, f"/clinic/referrals/{uploaded.referral.id}/attachments/{a.id}"),
    }


def test_the_type_is_detected_from_the_bytes_not_taken_from_the_browser(uploaded):
    assert uploaded.attachment.content_type == DETECTED
    assert uploaded.attachment.filename == NAME


def test_every_download_is_an_attachment_with_a_safe_name_and_the_detected_type(app, uploaded, store):
    for who, (client, path) in _routes(app, uploaded).items():
        response = _fetch(client, _link(app, client, path))
        assert response.status_code == 200, who
        body = response.content if isinstance(response, requests.Response) else response.data
        if who == "clinic":  # the worker's de-identified copy, as recorded
            assert hashlib.sha256(body).hexdigest() == derivatives.file_view(uploaded.attachment).copy.sha256
        else:
            assert body == files.png(), who
        disposition = response.headers["Content-Disposition"]
        assert SAFE_DISPOSITION.fullmatch(disposition), (who, disposition)
        shown = unquote(disposition.split("filename*=UTF-8''", 1)[1])
        # Staff and the patient get the name as uploaded; the clinic its redacted form, with
        # the extension of the copy's type (a PNG the browser called a PDF is a .png).
        assert shown == NAME if who != "clinic" else shown.endswith(".png"), (who, shown)
        assert response.headers["Content-Type"].split(";")[0] == DETECTED, who
        if isinstance(response, requests.Response):
            continue  # S3 sets only the overridable headers; `attachment` keeps browsers from rendering
        assert response.headers["X-Content-Type-Options"] == "nosniff", who
        assert "no-store" in response.headers["Cache-Control"], who
        assert_secure_headers(response)


def test_the_links_live_download_url_ttl_seconds(app, uploaded, store, monkeypatch):
    monkeypatch.setitem(app.config, "DOWNLOAD_URL_TTL", 120)
    for who, (client, path) in _routes(app, uploaded).items():
        url = _link(app, client, path)
        if urlsplit(url).path.startswith("/files/"):
            token = urlsplit(url).path.removeprefix("/files/")
            assert store._signer.loads(token)["e"] == 120, who
        else:
            assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["120"], who


@pytest.fixture
def local_link(app, client, storage, monkeypatch) -> str:
    monkeypatch.setitem(app.config, "DOWNLOAD_URL_TTL", 1)
    case, location = post_request(client, files=[(io.BytesIO(files.png()), NAME, CLAIMED)])
    return _link(app, client, f"{urlsplit(location).path}/files/{case.attachments[0].id}")


def _refused(response, language: str = "en") -> None:
    assert response.status_code == 410
    assert response.mimetype == "text/html"
    assert files.png() not in response.data and "Content-Disposition" not in response.headers
    expected = "This download link has expired" if language == "en" else "Срок действия ссылки для скачивания истёк"
    assert expected in response.text
    assert_secure_headers(response)


def test_an_expired_local_link_is_refused_with_a_clear_page(client, local_link):
    assert client.get(local_link).status_code == 200
    time.sleep(2.05)
    _refused(client.get(local_link))
    _refused(client.get(local_link, headers={"Accept-Language": "ru"}), "ru")


def test_a_tampered_or_forged_local_link_is_refused(client, local_link, storage):
    from storage import FileStore

    body, signature = local_link.rsplit(".", 1)
    _refused(client.get(body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]))
    _refused(client.get("/files/not-a-token"))
    forger = FileStore(storage.root, secret_key="somebody else's key")
    attachment = db.session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    _refused(client.get(forger.url(attachment.storage_key, filename="x.png", content_type="text/html")))
