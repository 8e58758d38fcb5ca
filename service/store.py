"""Binds the object store chosen by STORAGE_URL to the app."""
from __future__ import annotations

from flask import Flask, current_app

from storage import Storage, from_url


def init_app(app: Flask) -> None:
    app.extensions["storage"] = from_url(
        app.config["STORAGE_URL"],
        secret_key=app.config["SECRET_KEY"],
        sse=app.config["S3_SSE"],
        kms_key_id=app.config["S3_KMS_KEY_ID"],
    )


def get_storage() -> Storage:
    return current_app.extensions["storage"]
