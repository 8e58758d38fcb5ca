"""Object storage unreachable during a submission with files, over HTTP against a real S3
endpoint that is stopped: the case and its text are recorded, the patient reads the
clear message, no attachment points at an object that is not there; with the endpoint
back, the patient adds the files from the form on the status page and they are stored."""
from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator

import boto3
import pytest

from service.blueprints.requests import FILES_NOT_STORED
from service.extensions import db
from service.models import Case
from storage import from_url
from tests.fixtures import files
from tests.fixtures.forms import upload, valid_request
from tests.fixtures.s3 import REGION

PREFIX = "medtour"
ADD_FILES_FORM = re.compile(r'<form method="post" action="([^"]+/files)"')


@pytest.fixture
def s3_store(app, private_s3) -> Iterator[tuple]:
    """The app on a bucket of the private S3 endpoint (which the test stops and starts)."""
    client = boto3.client("s3", endpoint_url=private_s3.endpoint, region_name=REGION)
    bucket = f"medtour-faults-{uuid.uuid4().hex[:12]}"  # moto's buckets live as long as the process
    client.create_bucket(Bucket=bucket)
    original = app.extensions["storage"]
    app.extensions["storage"] = from_url(
        f"s3://{bucket}/{PREFIX}", secret_key=app.config["SECRET_KEY"], endpoint_url=private_s3.endpoint
    )
    try:
        yield client, bucket
    finally:
        app.extensions["storage"] = original
        if private_s3.server is not None:  # a test that failed with the endpoint down leaves it
            for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])
            client.delete_bucket(Bucket=bucket)


def _objects(client, bucket: str) -> dict[str, str]:
    """Every stored object (key under the prefix → its SHA-256)."""
    found = {}
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        found[item["Key"].removeprefix(f"{PREFIX}/")] = hashlib.sha256(body).hexdigest()
    return found


def test_a_submission_while_storage_is_down_keeps_the_case_and_the_files_can_be_added_later(
    client, s3_store, private_s3
):
    s3, bucket = s3_store
    scan, photo = files.pdf("Knee MRI report"), files.jpeg()
    private_s3.stop()

    data = valid_request(language="en")
    data["files"] = [upload(scan, "mri.pdf"), upload(photo, "photo.jpg")]
    response = client.post("/requests/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 303
    page = client.get(response.location)
    assert page.status_code == 200
    assert FILES_NOT_STORED in page.text.replace("\n", " ")
    case = db.session.scalars(db.select(Case).order_by(Case.id.desc())).first()
    assert case.description == data["description"]
    assert case.attachments == []
    assert [e.kind for e in case.events] == ["case_submitted", "files_not_stored"]

    private_s3.start()
    assert _objects(s3, bucket) == {}  # nothing was left behind, nothing is referenced
    page = client.get(response.location)
    [action] = ADD_FILES_FORM.findall(page.text)
    added = client.post(action, data={"files": [upload(scan, "mri.pdf"), upload(photo, "photo.jpg")]},
                        content_type="multipart/form-data")
    assert added.status_code == 303, added.text
    db.session.refresh(case)
    assert sorted(a.filename for a in case.attachments) == ["mri.pdf", "photo.jpg"]
    stored = _objects(s3, bucket)
    assert {a.storage_key: a.sha256 for a in case.attachments} == stored
    assert sorted(stored.values()) == sorted(hashlib.sha256(b).hexdigest() for b in (scan, photo))
    assert "2 files added to your request." in client.get(response.location).text
