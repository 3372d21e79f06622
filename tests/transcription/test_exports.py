"""Exports of a transcript: SRT, plain text, segmented JSON, and segments cut on request."""

from __future__ import annotations

import json

from intone.transcription.exports import ExportOptions, export
from intone.transcription.transcript import Segment, Transcript, Word


def _segment(*timed: tuple[str, float, float]) -> Segment:
    words: list[Word] = []
    for text, start, end in timed:
        if words:
            words.append(Word(" ", words[-1].end, start, "spacing", 0.0))
        words.append(Word(text, start, end, "word", -0.1))
    return Segment(" ".join(text for text, _, _ in timed), timed[0][1], timed[-1][2], tuple(words))


TRANSCRIPT = Transcript(
    "en",
    0.99,
    70.0,
    (
        _segment(("Hello", 0.0, 0.5), ("world.", 0.6, 1.0)),
        _segment(("Later", 61.25, 61.5), ("on.", 65.0, 66.0)),
    ),
)


def test_srt_numbers_blocks_with_subtitle_times():
    made = export(TRANSCRIPT, ExportOptions("srt"))
    assert (made.file_extension, made.content_type) == ("srt", "application/x-subrip")
    assert made.content == (
        "1\n00:00:00,000 --> 00:00:01,000\nHello world.\n\n2\n00:01:01,250 --> 00:01:06,000\nLater on.\n"
    )


def test_txt_with_and_without_timestamps():
    assert export(TRANSCRIPT, ExportOptions("txt", include_timestamps=False)).content == (
        "Hello world.\nLater on.\n"
    )
    timed = export(TRANSCRIPT, ExportOptions("txt")).content
    assert timed.splitlines()[1] == "[00:01:01.250 - 00:01:06.000] Later on."


def test_segments_cut_on_silence():
    made = export(TRANSCRIPT, ExportOptions("segmented_json", segment_on_silence_longer_than_s=2.0))
    body = json.loads(made.content)
    assert body["language_code"] == "eng"
    assert [segment["text"] for segment in body["segments"]] == ["Hello world.", "Later", "on."]
    assert body["segments"][2]["start_time"] == 65.0
    assert [word["type"] for word in body["segments"][0]["words"]] == ["word", "spacing", "word"]


def test_segments_cut_at_a_length_and_lines_wrapped():
    made = export(TRANSCRIPT, ExportOptions("srt", max_segment_chars=6, max_characters_per_line=4))
    blocks = made.content.strip().split("\n\n")
    assert len(blocks) == 4
    assert blocks[1].splitlines()[2:] == ["worl", "d."]
