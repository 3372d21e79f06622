"""Rendering: synthesized windows to encoded pieces, one continuous stream per renderer."""

from __future__ import annotations

import numpy as np
import pytest

from intone.audio.formats import parse_output_format
from intone.rendering import Renderer, render
from intone.speech.alignment import Alignment
from intone.speech.synthesizer import SpeechChunk


class _OneChunk:
    """Stands in for the synthesizer: one second of audio at a plan's rate (24 kHz by default) with two
    timed characters."""

    def stream(self, plan):
        rate = plan or 24_000
        timed = Alignment(("h", "i"), (0.0, 0.5), (0.5, 1.0))
        yield SpeechChunk(np.full(rate, 0.1, np.float32), rate, 0.0, timed, timed)


def test_each_window_is_one_piece_with_its_timings_and_length():
    pieces = list(render(_OneChunk(), None, parse_output_format("pcm_24000")))
    assert [len(p.audio) for p in pieces] == [48_000, 0]  # 16-bit samples, then the encoder's (empty) tail
    assert pieces[0].alignment.characters == ("h", "i")
    assert pieces[0].duration == 1.0 and pieces[1].duration == 0.0


def test_segments_from_engines_of_other_rates_keep_the_streams_rate():
    """A socket's language can move it to another engine: its audio is resampled to the stream's rate
    rather than played at the wrong speed."""
    renderer = Renderer(_OneChunk(), parse_output_format("pcm_24000"))
    first = b"".join(piece.audio for piece in renderer.render(24_000))
    second = b"".join(piece.audio for piece in renderer.render(22_050)) + renderer.finish()
    assert len(first) + len(second) == pytest.approx(2 * 2 * 24_000, abs=2 * 100)
