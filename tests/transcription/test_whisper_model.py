"""The Whisper base model is joined from its two packages and checked against its digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from intone.engines.whisper import model_dir
from intone.speech.errors import EngineUnavailable


def test_a_model_that_is_not_the_pinned_one_is_refused(tmp_path: Path):
    folder = tmp_path / "whisper-base"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"not whisper")
    with pytest.raises(EngineUnavailable, match="SHA-256"):
        model_dir(tmp_path)


@pytest.mark.slow
def test_the_halves_join_into_the_pinned_model_once(tmp_path: Path):
    folder = model_dir(tmp_path)
    model = folder / "model.bin"
    assert {path.name for path in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    joined_at = model.stat().st_mtime_ns
    assert model_dir(tmp_path) == folder
    assert model.stat().st_mtime_ns == joined_at
    leftovers = [path.name for path in folder.iterdir() if path.name.startswith(".model.bin.")]
    assert leftovers == [".model.bin.checked"]  # no half-written file left behind
