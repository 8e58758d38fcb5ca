"""Configuration from the environment, with embedded defaults."""
from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from service import config, limits, runner
from tests.fixtures.gunicorn import app_env, prepare_database, private_redis
from tests.fixtures.services import free_port, port_open
from wsgi import create_app

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


@pytest.mark.parametrize(("env", "base_url"), [
    ({}, "http://127.0.0.1:8000"),
    ({"PORT": "8123"}, "http://127.0.0.1:8123"),
    ({"HOST": "192.0.2.7", "PORT": "8123"}, "http://192.0.2.7:8123"),
    ({"HOST": "0.0.0.0", "PORT": "8123"}, "http://127.0.0.1:8123"),
    ({"PORT": "8123", "BASE_URL": "https://medtour.example/"}, "https://medtour.example"),
])
def test_links_follow_the_port_make_run_serves_on_unless_base_url_is_set(monkeypatch, tmp_path, env, base_url):
    for name in ("HOST", "PORT", "BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    assert create_app().config["BASE_URL"] == base_url
    assert runner.child_env(env)["BASE_URL"].rstrip("/") == base_url


def test_make_run_on_another_port_puts_that_port_in_the_patients_link(tmp_path):
    """`PORT=8123 make run` (service/runner.py: gunicorn and a worker): the status link
    the worker emails a new patient (to the log, MAIL_URL unset) points at that port."""
    port = free_port()
    with private_redis(tmp_path) as redis_url:
        mail_in_port = free_port()
        env = app_env(f"sqlite:///{tmp_path / 'medtour.db'}", tmp_path, REDIS_URL=redis_url,
                      PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="INFO", MAIL_URL="",
                      MAIL_IN_PORT=str(mail_in_port))
        env.pop("BASE_URL", None)
        prepare_database(env)
        log_path = tmp_path / "run.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([sys.executable, "-m", "service.runner"], cwd=ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            created = requests.post(base + "/api/v1/requests", timeout=30, data={
                "full_name": "Amina Petrova", "email": "amina@example.org", "country": "KZ", "language": "en",
                "treatment": "osseointegrated-prosthesis-transfemoral", "consent": "y",
                "description": "Above-knee amputation in 2019; the socket prosthesis causes sores.",
            })
            assert created.status_code == 201, created.text
            token = created.json()["status_url"].rsplit("/", 1)[1]
            while f"{base}/s/{token}" not in log_path.read_text(errors="replace"):
                assert process.poll() is None and time.monotonic() < deadline + 60, log_path.read_text()
                time.sleep(0.2)
            # The inbound mail receiver runs beside them, on MAIL_IN_PORT.
            while not port_open("127.0.0.1", mail_in_port):
                assert process.poll() is None and time.monotonic() < deadline + 60, log_path.read_text()
                time.sleep(0.2)
            with smtplib.SMTP("127.0.0.1", mail_in_port, timeout=10) as smtp:
                assert smtp.noop()[0] == 250
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
