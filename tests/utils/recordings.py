"""Real read speech for speech-to-text tests: LibriVox recordings (Jane Austen, "Sense and Sensibility",
one reader, 16 kHz mono WAV, 25 s in all) from the Debian package pocketsphinx-testdata
0.8+5prealpha+1-15, which the test bootstrap installs. Each file is checked against its digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

FOLDER = Path("/usr/share/pocketsphinx/test/data/librivox")
PACKAGE = "pocketsphinx-testdata=0.8+5prealpha+1-15"
_DIGESTS = {
    "0870": "b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c",
    "0880": "fbec491ef00ee734a67f0ee318e98c51c157b479e1629ff4f4426861ecac0414",
    "0890": "5793ffbdee55fb8bfd284943a6866864c832d9d4accf2661cabd39915c84ee10",
    "0920": "40882414ef4cc51f3ff7a63bad0c8c87e7f595ffeb8209fbf756c8ebc5c28a59",
    "0930": "954adbf0b56ac8a148cbe77b39ca18d76b5f2a1e1f405565bd786ce3e68a68b7",
}
# The package's own transcription, as read (the reader says "a amiable"; Whisper writes "Mr." for "mister").
_SAID = {
    "0870": "and mister john dashwood had then leisure to consider how much there might be prudently in "
    "his power to do for them",
    "0880": "he was not an ill disposed young man",
    "0890": "unless to be rather cold hearted and rather selfish is to be ill disposed",
    "0920": "had he married a more a amiable woman he might have been made still more respectable than "
    "he was",
    "0930": "he might even have been made amiable himself",
}


@dataclass(frozen=True)
class Recording:
    path: Path
    said: str


def librivox() -> list[Recording]:
    """The recordings, checked; skips the calling test when the package is not installed."""
    if not FOLDER.is_dir():
        pytest.skip(f"the Debian package {PACKAGE} is not installed (scripts/bootstrap.sh test installs it)")
    recordings = []
    for number, digest in _DIGESTS.items():
        path = FOLDER / f"sense_and_sensibility_01_austen_64kb-{number}.wav"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} is not the pinned recording"
        recordings.append(Recording(path, _SAID[number]))
    return recordings
