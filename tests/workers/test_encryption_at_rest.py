"""Encryption at rest: every object the service leaves in S3 (the patient's files, staged
resumable parts, every PDF the workers render) carries server-side encryption, whichever
path wrote it."""
from __future__ import annotations

from sqlalchemy import select

from service.cases.status import CaseStatus
from service.extensions import db
from service.models import Attachment, Document
from tests.fixtures import files
from tests.fixtures.cases import post_request, run_worker
from tests.fixtures.forms import upload
from tests.service.blueprints.test_tus import created, patch


def _every_object(s3_client, bucket: str) -> list[str]:
    return [obj["Key"] for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for obj in page.get("Contents", [])]


def test_every_object_a_case_leaves_in_s3_is_encrypted(app, client, redis_queue, s3_storage, s3_client, s3_bucket):
    staged = files.pdf("Lab results, sent resumably")
    location = created(client, len(staged), "labs.pdf")
    assert patch(client, location, 0, staged).status_code == 204
    case, _status = post_request(client, [upload(files.pdf("Knee MRI report"), "mri.pdf"),
                                          upload(files.png(), "stump.png")],
                                 upload_ids=[location.rsplit("/", 1)[-1]])
    run_worker(app)
    db.session.refresh(case)
    assert case.status == CaseStatus.ROUTED

    keys = _every_object(s3_client, s3_bucket)
    written = {s3_storage.object_key(key) for key in (
        *db.session.scalars(select(Attachment.storage_key).where(Attachment.case_id == case.id)),
        *db.session.scalars(select(Document.storage_key).where(Document.case_id == case.id)),
    )}
    kinds = set(db.session.scalars(select(Document.kind).where(Document.case_id == case.id)))
    assert {"confirmation", "dossier"} <= kinds
    assert len(case.attachments) == 3, "the staged upload joined the two picked files"
    assert written <= set(keys), "every attachment and document of the case is in the bucket"
    assert len(keys) >= len(written) >= 6, "three attachments, a confirmation and a dossier per referral"
    unencrypted = {key: head.get("ServerSideEncryption") for key in keys
                   if (head := s3_client.head_object(Bucket=s3_bucket, Key=key)).get("ServerSideEncryption")
                   != app.config["S3_SSE"]}
    assert app.config["S3_SSE"] == "AES256"
    assert unencrypted == {}
