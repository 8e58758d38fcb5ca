"""Configuration from the environment, with embedded defaults."""
from __future__ import annotations

from service import create_app, limits


def test_embedded_defaults_live_under_instance(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "STORAGE_URL", "REDIS_URL", "SECRET_KEY", "MAX_FILES", "MAX_FILE_BYTES"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/medtour.db")
    assert app.config["STORAGE_URL"].startswith("file:///") and app.config["STORAGE_URL"].endswith("instance/storage")
    assert app.config["MAX_FILES"] == limits.MAX_FILES == 10
    assert app.config["MAX_FILE_BYTES"] == limits.MAX_FILE_BYTES == 10 * 1024 * 1024
    assert len(app.config["SECRET_KEY"]) >= 32
    assert create_app({}).config["SECRET_KEY"] == app.config["SECRET_KEY"], "dev key must survive restarts"


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("STORAGE_URL", f"file://{tmp_path}/objects")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6399/3")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("MAX_FILES", "4")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/x.db"
    assert app.config["STORAGE_URL"] == f"file://{tmp_path}/objects"
    assert app.config["REDIS_URL"] == "redis://127.0.0.1:6399/3"
    assert app.config["SECRET_KEY"] == "s" * 40
    assert app.config["MAX_FILES"] == 4
    assert app.config["MAX_CONTENT_LENGTH"] == 4 * limits.MAX_FILE_BYTES + limits.FORM_OVERHEAD_BYTES


def test_bad_number_in_environment_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MAX_FILES", "ten")
    try:
        create_app()
    except RuntimeError as exc:
        assert "MAX_FILES must be a whole number" in str(exc)
    else:
        raise AssertionError("expected a configuration error")
