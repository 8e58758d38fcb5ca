"""The production front end (deploy/nginx.conf, issue 14): nginx rendered from the shipped
file by the shipped step, in front of gunicorn's sync workers with PROXY_HOPS=1, over
TLS on loopback.

Without it, eight clients sending a form at 1 KB/s hold every sync worker and every other
request times out (bench/slow_clients.py measures both ways). With it, nginx reads each
body whole before the app sees it: other patients are answered at once, the slow
uploads are accepted when they end, and the rate limits count the address that
connected, whatever X-Forwarded-For a client writes."""
from __future__ import annotations

import base64
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from service import config as service_config
from service.limits import MIB
from tests.fixtures import files
from tests.fixtures.gunicorn import Gunicorn, app_env, prepare_database, private_redis, run_gunicorn
from tests.fixtures.nginx import CONFIG, RENDER, Nginx, allocate_site, nginx_binary, run_nginx
from tests.fixtures.raw_http import head_block, open_form, post_form, request, slow_post, submission

WORKERS = 2
SLOW_CLIENTS = 8
BYTES_PER_SECOND = 1024
# Each slow body is about 10 KB: about 10 s at 1 KB/s.
SLOW_BODY_MIN = 9_000
PROBE_DEADLINE = 2.0
PROBE_ROUNDS_MAX = 60
SUBMISSIONS_PER_ADDRESS = 8
REQUESTS_PER_ADDRESS = 50
_STATUS_LINK = re.compile(r"/s/([A-Za-z0-9_-]{20,})$")


def loopback_address() -> str:
    """An address of this host's 127.0.0.0/8, never 127.0.0.1 (nginx's own address towards
    gunicorn, which the app would count if it ignored X-Forwarded-For); one per client, so
    the tests' rate-limit counts do not mix."""
    return f"127.{1 + secrets.randbelow(254)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


@dataclass
class Stack:
    app: Gunicorn
    proxy: Nginx


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """gunicorn (sync workers, PROXY_HOPS=1, per-address limits on) behind nginx, for the
    whole module: each test uses client addresses of its own. Its Redis is private: the
    rate-limit counts survive other tests flushing theirs, and its jobs reach no worker."""
    nginx_binary()
    workdir = tmp_path_factory.mktemp("deploy")
    site = allocate_site(workdir)
    with private_redis(workdir) as redis_url:
        env = app_env(
            f"sqlite:///{workdir / 'medtour.db'}", workdir,
            BASE_URL=site.origin, PROXY_HOPS="1", REDIS_URL=redis_url, RATELIMIT_ENABLED="1",
            SUBMISSION_RATE_LIMIT=f"{SUBMISSIONS_PER_ADDRESS} per hour",
        )
        prepare_database(env)
        with run_gunicorn(env, workdir, workers=WORKERS) as app, run_nginx(site, app.base_url, workdir) as proxy:
            yield Stack(app, proxy)


@pytest.fixture
def app_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The app's configuration with its default limits (service/config.py over
    service/limits.py), as the shipped nginx.conf must match them."""
    for name in ("MAX_FILES", "MAX_FILE_BYTES", "BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return service_config.load(str(tmp_path))


def _failure_context(stack: Stack) -> str:
    return f"--- nginx error log ---\n{stack.proxy.error_log()[-3000:]}\n--- gunicorn ---\n{stack.app.log(60)}"


def test_nginx_is_installed_with_tls():
    """`make test` installs Debian's nginx (`make nginx`); under CI a missing one fails."""
    version = subprocess.run([nginx_binary(), "-V"], capture_output=True, text=True, timeout=10)
    assert "--with-http_ssl_module" in version.stderr, version.stderr


def test_the_shipped_body_limits_are_the_apps(app_limits):
    """client_max_body_size is the app's MAX_CONTENT_LENGTH (MAX_FILES x MAX_FILE_BYTES
    + the form), and a tus PATCH's is one whole file: nginx and service/limits.py cannot drift."""
    text = CONFIG.read_text()
    units = {"": 1, "k": 1024, "m": MIB}

    def size(pattern: str) -> int:
        found = re.search(pattern, text, re.MULTILINE | re.DOTALL)
        assert found, pattern
        return int(found["number"]) * units[found["unit"]]

    assert size(r"^    client_max_body_size (?P<number>\d+)(?P<unit>[km]?);") == app_limits["MAX_CONTENT_LENGTH"]
    assert size(r"location /uploads \{[^}]*client_max_body_size (?P<number>\d+)(?P<unit>[km]?);") == (
        app_limits["MAX_FILE_BYTES"])


@pytest.mark.parametrize("base_url, message", [
    ("http://medtour.example", "must start with https://"),
    ("https://medtour.example/medtour", "without a path"),
])
def test_the_render_step_refuses_a_base_url_nginx_cannot_serve(tmp_path, base_url, message):
    env = {"PATH": "/usr/bin:/bin", "BASE_URL": base_url,
           "MEDTOUR_TLS_CERT": str(tmp_path / "c.pem"), "MEDTOUR_TLS_KEY": str(tmp_path / "k.pem")}
    result = subprocess.run(["sh", str(RENDER)], env=env, capture_output=True, text=True, timeout=10)
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""


def test_eight_slow_uploads_hold_up_no_other_patient_and_are_accepted(stack):
    """Eight patients send the form at 1 KB/s for about 10 s (to two sync workers); all
    the while the landing page and the form are answered within 2 s each, and each slow
    upload, once complete, is recorded by the app (303 to its status page)."""
    target = stack.proxy.target
    source = loopback_address()
    visits = [open_form(target, source=source) for _ in range(SLOW_CLIENTS)]
    bodies = [
        submission(visit, number, files=[("files", "scan.pdf", files.pdf("Lab result " * 300))],
                   description_chars=4500)
        for number, visit in enumerate(visits)
    ]
    assert min(len(body) for _, body in bodies) > SLOW_BODY_MIN
    sending = [threading.Event() for _ in visits]
    probes: list[tuple[str, int | str, float]] = []
    with ThreadPoolExecutor(max_workers=SLOW_CLIENTS) as pool:
        uploads = [
            pool.submit(slow_post, visit, content_type, body, BYTES_PER_SECOND, on_sending=event.set,
                        headers={"X-Forwarded-For": f"203.0.113.{number + 1}"})
            for number, (visit, (content_type, body), event) in enumerate(zip(visits, bodies, sending))
        ]
        assert all(event.wait(10) for event in sending)
        started = time.monotonic()
        for _ in range(PROBE_ROUNDS_MAX):
            if any(upload.done() for upload in uploads):
                break
            for path in ("/", "/requests/new"):
                try:
                    answer = request(target, "GET", path, timeout=PROBE_DEADLINE)
                    probes.append((path, answer.status, answer.elapsed))
                except OSError as exc:
                    probes.append((path, f"no answer: {exc!r}", time.monotonic() - started))
            time.sleep(0.2)
        answers = [upload.result(timeout=60) for upload in uploads]
    context = _failure_context(stack)
    assert len(probes) >= 10, (probes, context)
    assert all(status == 200 and elapsed < PROBE_DEADLINE for _, status, elapsed in probes), (probes, context)
    assert min(answer.elapsed for answer in answers) > SLOW_BODY_MIN / BYTES_PER_SECOND * 0.8
    assert [answer.status for answer in answers] == [303] * SLOW_CLIENTS, (
        [(answer.status, answer.text[:300]) for answer in answers], context)
    assert all(_STATUS_LINK.search(answer.headers["location"]) for answer in answers)


def test_the_rate_limit_counts_the_address_that_connected_not_a_forwarded_one(stack):
    """SUBMISSION_RATE_LIMIT is 8 per hour here. A client writing a new X-Forwarded-For on
    every submission is still refused the 9th (nginx replaces the header), and a client
    at another address is not (the app counts nginx's report, not nginx's own address)."""
    target = stack.proxy.target
    client, neighbour = loopback_address(), loopback_address()
    answers = [
        post_form(open_form(target, source=client), number, headers={"X-Forwarded-For": f"198.51.100.{number + 1}"})
        for number in range(SUBMISSIONS_PER_ADDRESS + 1)
    ]
    assert [answer.status for answer in answers] == [303] * SUBMISSIONS_PER_ADDRESS + [429], _failure_context(stack)
    assert "retry-after" in answers[-1].headers
    assert post_form(open_form(target, source=neighbour), 100).status == 303


def test_the_app_sees_https_and_the_public_host(stack):
    """X-Forwarded-Proto is trusted: the app's HSTS header (sent only over https) is on
    the answer; and a request naming another host never reaches the app."""
    target = stack.proxy.target
    page = request(target, "GET", "/requests/new")
    assert page.status == 200
    assert page.headers["strict-transport-security"].startswith("max-age=")
    stranger = request(target, "GET", "/requests/new", {"Host": "evil.example"})
    assert stranger.status == 421 and "content-security-policy" not in stranger.headers


def test_plain_http_is_redirected_to_the_same_path_on_the_https_origin(stack):
    site = stack.proxy.site
    answer = request(site.plain_target, "GET", "/requests/new?treatment=hip", {"Host": "evil.example"})
    assert answer.status == 301
    assert answer.headers["location"] == f"{site.origin}/requests/new?treatment=hip"


def test_a_body_over_the_limit_is_refused_unread_in_the_apps_words(stack, app_limits):
    """A Content-Length over MAX_CONTENT_LENGTH is answered at once, none of the body sent,
    by the app (its headers, its page or problem+json), not by nginx's bare 413."""
    target = stack.proxy.target
    visit = open_form(target)
    too_long = str(app_limits["MAX_CONTENT_LENGTH"] + 1)
    form = request(target, "POST", "/requests/new", visit.headers(
        {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": too_long}), timeout=PROBE_DEADLINE)
    assert form.status == 413 and "content-security-policy" in form.headers
    assert "Your files are too large to send together" in form.text
    api = request(target, "POST", "/api/v1/requests",
                  {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": too_long}, timeout=PROBE_DEADLINE)
    assert api.status == 413 and api.headers["content-type"].startswith("application/problem+json")


def test_a_resumable_upload_goes_through_chunk_by_chunk(stack, app_limits):
    """tus through nginx: a 1 MiB PATCH arrives whole (offset 1 MiB, HEAD agrees), and a
    PATCH larger than a whole file is refused by the app's tus answer (problem+json)."""
    target = stack.proxy.target
    visit = open_form(target)
    tus = visit.headers({"Tus-Resumable": "1.0.0", "X-CSRFToken": visit.tokens["csrf_token"]})
    metadata = "filename " + base64.b64encode(b"scan.pdf").decode()
    created = request(target, "POST", "/uploads", {**tus, "Upload-Length": str(2 * MIB), "Upload-Metadata": metadata})
    assert created.status == 201, created.text
    location = created.headers["location"]
    chunk = files.pdf().ljust(MIB, b"\n")
    patch = {**tus, "Content-Type": "application/offset+octet-stream"}
    sent = request(target, "PATCH", location, {**patch, "Upload-Offset": "0"}, chunk, timeout=30)
    assert sent.status == 204 and sent.headers["upload-offset"] == str(MIB), sent.text
    assert request(target, "HEAD", location, tus).headers["upload-offset"] == str(MIB)
    whole_file = app_limits["MAX_FILE_BYTES"]
    oversized = request(target, "PATCH", location, {**patch, "Upload-Offset": str(MIB),
                                                    "Content-Length": str(whole_file + 1)}, timeout=PROBE_DEADLINE)
    assert oversized.status == 413 and oversized.headers["content-type"].startswith("application/problem+json")


def test_the_access_log_keeps_no_status_link(stack):
    """The status link's token is a key to the case: nginx logs only the path's first segment."""
    target = stack.proxy.target
    answer = post_form(open_form(target, source=loopback_address()), 200)
    assert answer.status == 303
    link = _STATUS_LINK.search(answer.headers["location"])
    assert link
    assert request(target, "GET", f"/s/{link[1]}").status == 200
    log = stack.proxy.access_log(awaiting='"GET /s" 200')
    assert '"GET /s" 200' in log
    assert link[1] not in log


def test_one_address_cannot_hold_more_than_fifty_requests(stack):
    """Requests stuck waiting for their body count against their address: the 50th is
    served, the 51st refused (429), another address is served meanwhile."""
    target = stack.proxy.target
    hog = loopback_address()
    waiting = []
    try:
        for _ in range(REQUESTS_PER_ADDRESS - 1):
            sock = target.connect(5, hog)
            waiting.append(sock)
            sock.sendall(head_block(target, "POST", "/requests/new",
                                    {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "1000"}))
        time.sleep(0.5)
        fiftieth = request(target, "GET", "/", source=hog, timeout=PROBE_DEADLINE)
        waiting.append(target.connect(5, hog))
        waiting[-1].sendall(head_block(target, "POST", "/requests/new",
                                       {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "1000"}))
        time.sleep(0.5)
        fifty_first = request(target, "GET", "/", source=hog, timeout=PROBE_DEADLINE)
        neighbour = request(target, "GET", "/", source=loopback_address(), timeout=PROBE_DEADLINE)
    finally:
        for sock in waiting:
            sock.close()
    assert (fiftieth.status, fifty_first.status, neighbour.status) == (200, 429, 200)
