"""The toolchain protocol: sources in, a loadable artifact or a structured failure out."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Sources = Mapping[str, str]


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message, located in the candidate's own file names."""

    file: str
    line: int
    column: int
    severity: str  # "error", "warning" or "note"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass
class CompileResult:
    ok: bool
    artifact: Path | None  # the loadable file (a shared library, a cubin) when ok
    log: str  # the compiler's full output
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0
    cached: bool = False
    resources: dict[str, int] = field(default_factory=dict)  # e.g. registers, spills
    # The sha256 of the artifact's bytes as the harness wrote them (a fresh build) or verified
    # them (a cache hit). Loaders read the artifact through read_artifact, which checks it.
    artifact_sha256: str | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def summary(self) -> str:
        if self.ok:
            return "compiled" + (" (cached)" if self.cached else f" in {self.seconds:.2f} s")
        first = self.errors[:1] or self.diagnostics[:1]
        if first:
            return f"compile failed: {first[0]}"
        # no diagnostic to point at (the toolchain refused the sources as a whole): its words
        said = next((line.strip() for line in self.log.splitlines() if line.strip()), "")
        return f"compile failed: {said[:300]}" if said else "compile failed (no log)"

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 4),
            "cached": self.cached,
            "diagnostics": [d.as_dict() for d in self.diagnostics],
            "resources": dict(self.resources),
            "artifact_sha256": self.artifact_sha256,
            "log": self.log,
        }


class ToolchainUnavailable(RuntimeError):
    """The compiler this toolchain needs is not installed or does not work."""


class ArtifactTampered(RuntimeError):
    """A compiled artifact's bytes are not the ones the harness built or verified."""


def read_artifact(result: CompileResult) -> bytes:
    """The artifact's bytes, checked against the sha256 the harness recorded for them.

    Load from the returned bytes, never from ``result.artifact`` again: the file may be swapped
    at any moment after this check, the bytes in hand cannot."""
    if result.artifact is None:
        raise ArtifactTampered("the compile result has no artifact to load")
    if not result.artifact_sha256:
        raise ArtifactTampered(
            f"{result.artifact} has no recorded sha256; refusing to load an unverified artifact"
        )
    try:
        data = result.artifact.read_bytes()
    except OSError as error:
        raise ArtifactTampered(f"{result.artifact} cannot be read: {error}") from None
    digest = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(digest, result.artifact_sha256):
        raise ArtifactTampered(
            f"{result.artifact} changed after it was built or verified: its sha256 is "
            f"{digest[:16]}..., the harness recorded {result.artifact_sha256[:16]}..."
        )
    return data


def define_options(defines: Mapping[str, object]) -> tuple[str, ...]:
    """The harness's defines as compiler options, the way every build of a kernel passes them."""
    return tuple(f"-D{name}={value}" for name, value in defines.items())


class Toolchain(Protocol):
    name: str
    source_suffixes: tuple[str, ...]

    def version(self) -> str:
        """Identifies the compiler exactly; part of every cache key."""
        ...

    def compile(self, sources: Sources, options: tuple[str, ...] = ()) -> CompileResult: ...


GCC_STYLE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<col>\d+):)?\s*"
    r"(?P<sev>fatal error|error|warning|note):\s*(?P<msg>.*)$",
    re.MULTILINE,
)


def parse_gcc_style(log: str, known_files: set[str]) -> list[Diagnostic]:
    """``file:line:col: severity: message`` lines, with build-directory paths cut to the name."""
    diagnostics = []
    for m in GCC_STYLE.finditer(log):
        name = os.path.basename(m["file"])
        file = name if name in known_files else m["file"]
        severity = "error" if m["sev"] == "fatal error" else m["sev"]
        diagnostics.append(
            Diagnostic(file, int(m["line"]), int(m["col"] or 0), severity, m["msg"].strip())
        )
    return diagnostics


def default_cache_dir() -> Path:
    base = os.environ.get("AVO_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return (root if os.environ.get("AVO_CACHE_DIR") else root / "avo-tui") / "compile"


CACHE_FORMAT = 2  # entries of another format (older ones had no artifact hash, no MAC) miss
KEY_FILE = ".key"
KEY_BYTES = 32
MAC_DOMAIN = "avo-tui compile cache entry"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry_mac(secret: bytes, key: str, artifact_sha256: str | None, record: dict[str, Any]) -> str:
    """HMAC-SHA256 over the entry's key, its artifact's sha256 and the rest of its record."""
    rest = {name: value for name, value in record.items() if name != "mac"}
    message = json.dumps(
        [MAC_DOMAIN, key, artifact_sha256, rest], sort_keys=True, separators=(",", ":")
    )
    return hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and os.path.basename(name) == name


class CompileCache:
    """Finished builds keyed by the hash of sources, options and the toolchain's version.

    Each entry is a folder holding the artifact and ``result.json``; it is built in a temp folder
    and renamed into place, so a crash never leaves a half-written entry.

    Nothing in the folder is trusted as found: ``result.json`` records the artifact's sha256 and
    carries an HMAC-SHA256 (over the entry's key, that sha256 and the rest of the record) under
    a secret kept in ``<root>/.key`` (32 random bytes, mode 0600, made once). A hit needs the
    MAC to verify and the artifact's bytes to hash to the recorded sha256; anything else is a
    miss, and the entry is removed so the sources are built again. ``read_artifact`` checks the
    bytes once more when they are loaded."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()
        self._secret: bytes | None = None

    @staticmethod
    def key(toolchain: str, version: str, sources: Sources, options: tuple[str, ...]) -> str:
        payload = json.dumps(
            {
                "toolchain": toolchain,
                "version": version,
                "options": list(options),
                "sources": sorted(sources.items()),
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def find(
        self, toolchain: Toolchain, sources: Sources, options: tuple[str, ...]
    ) -> tuple[str, CompileResult | None]:
        """The key a build of these inputs has, and the cached result if there is one."""
        key = self.key(toolchain.name, toolchain.version(), sources, options)
        return key, self.lookup(key)

    # -- the secret ------------------------------------------------------------------------

    def secret(self) -> bytes | None:
        """The cache's MAC key, made on first use; None when it cannot be had (then nothing
        verifies, so nothing is served from the cache)."""
        if self._secret is None:
            try:
                self._secret = self._load_or_create_secret()
            except (OSError, ValueError):
                return None
        return self._secret

    def _load_or_create_secret(self) -> bytes:
        path = self.root / KEY_FILE
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            return _read_secret(path)
        except FileNotFoundError:
            pass
        secret = secrets.token_bytes(KEY_BYTES)
        # Written whole under a temporary name (mkstemp makes it 0600), then linked into place:
        # the link fails if the key exists, and a reader never sees a partial key.
        fd, temporary = tempfile.mkstemp(prefix=".key-", dir=self.root)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secret)
            try:
                os.link(temporary, path)
                return secret
            except FileExistsError:  # another worker made it first: use theirs
                return _read_secret(path)
            except OSError:  # no hard links here: create it exclusively instead
                pass
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return _read_secret(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
        return secret

    # -- entries ---------------------------------------------------------------------------

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def lookup(self, key: str) -> CompileResult | None:
        """The cached result, only if its record's MAC verifies and its artifact's bytes hash to
        the recorded sha256. Anything else is a miss and the entry is removed. Never raises."""
        entry = self._entry(key)
        try:
            if not os.path.lexists(entry):
                return None
            result = self._verified(key, entry)
        except Exception:  # a damaged or forged entry is a miss, whatever is wrong with it
            result = None
        if result is None:
            self._discard(entry)
        return result

    def _verified(self, key: str, entry: Path) -> CompileResult | None:
        secret = self.secret()
        if secret is None:
            return None
        record = json.loads((entry / "result.json").read_bytes())
        if not isinstance(record, dict) or record.get("format") != CACHE_FORMAT:
            return None
        mac, artifact_sha256 = record.get("mac"), record.get("artifact_sha256")
        if record.get("key") != key or not isinstance(mac, str):
            return None
        if not hmac.compare_digest(mac, _entry_mac(secret, key, artifact_sha256, record)):
            return None
        name = record["artifact"]
        artifact = None
        if name is not None:
            if not _plain_name(name) or not isinstance(artifact_sha256, str):
                return None
            artifact = entry / name
            if not hmac.compare_digest(_sha256(artifact.read_bytes()), artifact_sha256):
                return None
        elif artifact_sha256 is not None:
            return None
        return CompileResult(
            ok=bool(record["ok"]),
            artifact=artifact,
            log=str(record["log"]),
            diagnostics=[Diagnostic(**d) for d in record["diagnostics"]],
            seconds=float(record["seconds"]),
            cached=True,
            resources=dict(record["resources"]),
            artifact_sha256=artifact_sha256,
        )

    @staticmethod
    def _discard(entry: Path) -> None:
        """Remove an entry (best effort): renamed aside first, so a fresh entry another worker
        renames into place meanwhile is never half deleted."""
        trash = entry.with_name(f".trash-{entry.name[:12]}-{secrets.token_hex(4)}")
        try:
            os.rename(entry, trash)
        except OSError:
            return
        if trash.is_symlink() or not trash.is_dir():
            with contextlib.suppress(OSError):
                trash.unlink()
        else:
            shutil.rmtree(trash, ignore_errors=True)

    def store(self, key: str, result: CompileResult) -> CompileResult:
        """Move the result's artifact into the cache; return the result pointing at it, with
        the sha256 of the bytes written there."""
        final = self._entry(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=final.parent))
        artifact_name = None
        result.artifact_sha256 = None
        if result.artifact is not None:
            artifact_name = result.artifact.name
            data = result.artifact.read_bytes()  # read once: these bytes are hashed and stored
            result.artifact_sha256 = _sha256(data)
            with open(staging / artifact_name, "xb") as handle:
                handle.write(data)
        record: dict[str, object] = {
            "format": CACHE_FORMAT,
            "key": key,
            "artifact": artifact_name,
            "artifact_sha256": result.artifact_sha256,
            "ok": result.ok,
            "log": result.log,
            "diagnostics": [d.as_dict() for d in result.diagnostics],
            "seconds": result.seconds,
            "resources": dict(result.resources),
        }
        secret = self.secret()
        if secret is not None:  # without one the entry is written but never served
            record["mac"] = _entry_mac(secret, key, result.artifact_sha256, record)
        (staging / "result.json").write_text(json.dumps(record))
        for _ in range(3):
            try:
                os.rename(staging, final)
            except OSError:  # an entry is there: another worker's, or a bad one
                existing = self.lookup(key)  # removes a bad one, so the next rename works
                if existing is None:
                    continue
                if existing.ok == result.ok and (existing.artifact is None) == (
                    artifact_name is None
                ):
                    # Another worker stored the same key first: use its verified entry.
                    shutil.rmtree(staging, ignore_errors=True)
                    result.artifact = existing.artifact
                    result.artifact_sha256 = existing.artifact_sha256
                    return result
                break
            else:
                result.artifact = final / artifact_name if artifact_name else None
                return result
        # Could not place the entry: the staging folder stays as the artifact's home.
        result.artifact = staging / artifact_name if artifact_name else None
        return result


def _read_secret(path: Path) -> bytes:
    """The key file's bytes, if it is a regular file of ours, private, of the right length."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise ValueError(f"{path} is not private to this user")
        secret = handle.read(KEY_BYTES + 1)
    if len(secret) != KEY_BYTES:
        raise ValueError(f"{path} does not hold a {KEY_BYTES}-byte key")
    return secret
