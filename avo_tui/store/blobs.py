"""Content-addressed blobs: large text (sources, logs, transcripts) lives here, not in the DB."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .atomic import atomic_write, fsync_dir
from .errors import DamagedSession, StoreError

BLOBS = "blobs"


def blob_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    """Files named by the sha256 of their content, under ``blobs/<2 hex>/<62 hex>``."""

    def __init__(self, session_dir: Path) -> None:
        self.root = session_dir / BLOBS

    def path(self, digest: str) -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise StoreError(f"not a blob hash: {digest!r}")
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes | str) -> str:
        """Store ``data`` durably (once per content) and return its hash."""
        raw = data.encode() if isinstance(data, str) else data
        digest = blob_hash(raw)
        path = self.path(digest)
        if path.exists():
            return digest
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(self.root)
        atomic_write(path, raw)
        return digest

    def get(self, digest: str) -> bytes:
        path = self.path(digest)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise DamagedSession(path, "this blob is missing") from None
        if blob_hash(raw) != digest:
            raise DamagedSession(path, "the blob's content does not match its hash")
        return raw

    def get_text(self, digest: str) -> str:
        return self.get(digest).decode()

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()
