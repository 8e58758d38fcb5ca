"""The bare app bench/load.py measures the request form against: the essential work of
a submission and nothing else.

A plain Flask app, run by bench/load.py under the same gunicorn settings as the real
one, on the same S3 endpoint and PostgreSQL server:

* GET /requests/new answers a small form with the two hidden fields the simulated
  patients read back (`csrf_token`, `submission_token`), without templates or a session;
* POST /requests/new parses the multipart body (Werkzeug, as the app), puts each file
  to the same bucket (one boto3 client per worker process, as the app's store), inserts
  one row with the fields and the files' keys, sizes and SHA-256, commits, and answers
  303 to a status link `/s/<token>`;
* GET /healthz answers `ok` (gunicorn's readiness check in the bench).

What it leaves out is what the issue asks the app to justify: validation, the
catalogue, idempotency, the timeline, the outbox and its relay, translations, the
rendered page. Configured by the environment bench/upload.py's `app_env` sets
(`DATABASE_URL`, `STORAGE_URL`, `AWS_ENDPOINT_URL_S3` and the credentials).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import uuid
from urllib.parse import urlsplit

import boto3
import psycopg
from botocore.config import Config
from flask import Flask, redirect, request

app = Flask(__name__)

_local = threading.local()
_TABLE = """CREATE TABLE IF NOT EXISTS bare_submissions (
    id serial PRIMARY KEY, token_hash text NOT NULL, fields jsonb NOT NULL, files jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now())"""
_FORM = """<!doctype html><title>Request</title>
<form method="post" enctype="multipart/form-data">
<input type="hidden" name="csrf_token" value="{csrf}">
<input type="hidden" name="submission_token" value="{submission}">
<input name="full_name"><input name="email"><textarea name="description"></textarea>
<input type="file" name="files" multiple><button>Send</button></form>"""


def _bucket() -> tuple[str, str]:
    """Bucket and key prefix of STORAGE_URL (s3://bucket/prefix)."""
    url = urlsplit(os.environ["STORAGE_URL"])
    return url.netloc, url.path.strip("/")


def _s3():
    """One client per process (and thread): built once, as the app's store does."""
    client = getattr(_local, "s3", None)
    if client is None:
        client = _local.s3 = boto3.client(
            "s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"),
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )
    return client


def _db() -> psycopg.Connection:
    """One connection per process (and thread), opened on first use."""
    conn = getattr(_local, "db", None)
    if conn is None or conn.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
        conn = _local.db = psycopg.connect(url)
        with conn.transaction():
            conn.execute(_TABLE)
    return conn


@app.get("/healthz")
def healthz() -> str:
    return "ok"


@app.get("/requests/new")
def form() -> str:
    return _FORM.format(csrf=secrets.token_urlsafe(32), submission=secrets.token_urlsafe(32))


@app.post("/requests/new")
def submit():
    bucket, prefix = _bucket()
    client = _s3()
    stored = []
    for upload in request.files.getlist("files"):
        data = upload.read()
        key = f"{prefix}/bare/{uuid.uuid4()}"
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=upload.mimetype)
        stored.append({"key": key, "name": upload.filename, "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()})
    token = secrets.token_urlsafe(32)
    fields = {name: value for name, value in request.form.items() if name not in ("csrf_token", "submission_token")}
    conn = _db()
    with conn.transaction():
        conn.execute(
            "INSERT INTO bare_submissions (token_hash, fields, files) VALUES (%s, %s, %s)",
            (hashlib.sha256(token.encode()).hexdigest(), json.dumps(fields), json.dumps(stored)),
        )
    return redirect(f"/s/{token}", code=303)
