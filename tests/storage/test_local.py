"""What only the file store promises: atomic writes, a fenced root, and self-expiring signed links."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from storage import BadSignature, FileStore, SignatureExpired, StorageUnavailable, from_url
from storage.local import DOWNLOAD_SALT
from tests.storage.streams import MiB, failing_after

SECRET = "local-secret"
KEY = "cases/3/attachments/0b8f6a52-53a4-4b7e-9d0e-8f3c2f4b9a10"


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "store", secret_key=SECRET)


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def minted(payload: dict, seconds_ago: int, secret: str = SECRET) -> str:
    """A token as ``url`` would have made it ``seconds_ago``."""

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds_ago

    return URLSafeTimedSerializer(secret, salt=DOWNLOAD_SALT, signer=PastSigner).dumps(payload)


def test_the_root_is_created_on_first_write_not_before(tmp_path: Path) -> None:
    root = tmp_path / "later"
    store = from_url(f"file://{root}", secret_key=SECRET)
    assert not root.exists()
    store.put(KEY, io.BytesIO(b"scan"), content_type="application/pdf", filename="a.pdf")
    assert (root / KEY).read_bytes() == b"scan"


def test_a_stream_failing_midway_leaves_no_object_and_no_temporary_file(store: FileStore) -> None:
    with pytest.raises(StorageUnavailable):
        store.put(KEY, failing_after(os.urandom(3 * MiB), 2 * MiB), content_type="application/pdf", filename="a.pdf")
    assert files_under(store.root) == []


def test_a_failed_overwrite_keeps_the_previous_object_whole(store: FileStore) -> None:
    store.put(KEY, io.BytesIO(b"first"), content_type="application/pdf", filename="a.pdf")
    with pytest.raises(StorageUnavailable):
        store.put(KEY, failing_after(os.urandom(MiB), MiB // 2), content_type="application/pdf", filename="a.pdf")
    assert files_under(store.root) == [store.root / KEY]
    assert (store.root / KEY).read_bytes() == b"first"


@pytest.mark.parametrize("key", ["../escaped", "cases/../../escaped", "/tmp/escaped", "..\\escaped", "a/\x00/escaped"])
def test_keys_cannot_escape_the_root(tmp_path: Path, store: FileStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.put(key, io.BytesIO(b"x"), content_type="application/pdf", filename="a.pdf")
    with pytest.raises(ValueError):
        store.path_for(key)
    assert not (tmp_path / "escaped").exists()
    assert not store.root.exists()


def test_the_root_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="absolute"):
        from_url("file://relative/store", secret_key=SECRET)


def test_the_url_is_an_app_path_whose_token_round_trips(store: FileStore) -> None:
    url = store.url(KEY, filename="МРТ колена.pdf", content_type="application/pdf", expires_in=60)
    assert url.startswith("/files/")
    assert store.read_token(url.removeprefix("/files/")) == (KEY, "МРТ колена.pdf", "application/pdf")


def test_a_token_past_the_lifetime_it_was_minted_with_is_expired(store: FileStore) -> None:
    payload = {"k": KEY, "n": "a.pdf", "t": "application/pdf"}
    assert store.read_token(minted({**payload, "e": 300}, seconds_ago=100))[0] == KEY
    with pytest.raises(SignatureExpired):
        store.read_token(minted({**payload, "e": 60}, seconds_ago=100))


def test_a_freshly_minted_link_expires_on_its_own(store: FileStore) -> None:
    token = store.url(KEY, filename="a.pdf", content_type="application/pdf", expires_in=1).removeprefix("/files/")
    time.sleep(2.05)
    with pytest.raises(SignatureExpired):
        store.read_token(token)


def test_tampered_or_foreign_tokens_are_bad_signatures(store: FileStore) -> None:
    token = store.url(KEY, filename="a.pdf", content_type="application/pdf").removeprefix("/files/")
    body, signature = token.rsplit(".", 1)
    tampered = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(BadSignature):
        store.read_token(tampered)
    foreign = minted({"k": KEY, "n": "a.pdf", "t": "application/pdf", "e": 300}, 0, secret="other")
    with pytest.raises(BadSignature):
        store.read_token(foreign)
    with pytest.raises(BadSignature):
        store.read_token(minted({"k": KEY}, 0))
