"""Configuration from the environment, with embedded defaults."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from service import config, create_app, limits

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.parametrize("missing", config.REQUIRED_WHEN_DEPLOYED)
def test_a_deployed_service_refuses_to_start_without_its_secrets_in_the_environment(monkeypatch, tmp_path, missing):
    monkeypatch.setenv("BASE_URL", "https://medtour.example")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.delenv(missing)
    with pytest.raises(RuntimeError, match=f"set {missing} in the environment"):
        create_app()


def test_a_deployed_service_with_its_secrets_in_the_environment_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("BASE_URL", "https://medtour.example")
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    app = create_app()
    assert app.config["SECRET_KEY"] == "s" * 40
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/x.db"


def test_the_development_key_is_private_to_its_owner_and_never_tracked(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("BASE_URL", raising=False)
    app = create_app({})
    key_file = Path(app.instance_path) / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    ignored = subprocess.run(["git", "check-ignore", "-q", str(key_file)], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "instance/ (key, SQLite file, local store) must be git-ignored"


# URLs with a password other than the documented `user:pass` placeholder, cloud keys, private keys.
_CREDENTIALS = re.compile(
    r"://(?!user:pass@)[^/\s:@'\"\[]+:[^/\s@'\"]+@|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)


def test_no_credential_is_written_in_the_code_or_its_docs():
    """Tests hold dummy credentials for their own local servers; everything else that ships
    reads secrets from the environment."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    shipped = [name for name in tracked.decode().split("\0") if name and not name.startswith("tests/")]
    assert "service/config.py" in shipped and "README.md" in shipped
    found = {
        name: match.group(0)
        for name in shipped if (ROOT / name).is_file()
        for match in [_CREDENTIALS.search((ROOT / name).read_text(errors="ignore"))] if match
    }
    assert found == {}
