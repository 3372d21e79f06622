"""A transcript in other file formats (ElevenLabs' `additional_formats`): SRT subtitles, plain text,
segmented JSON and HTML.

Segments are Whisper's own unless an export asks to cut them otherwise (on a silence longer than some
seconds, at a longest duration or length), cutting only between words.
"""

from __future__ import annotations

import html
import json
import textwrap
from dataclasses import dataclass

from intone.transcription.languages import iso639_3
from intone.transcription.transcript import Segment, Transcript, Word

FORMATS = ("srt", "txt", "segmented_json", "html")


@dataclass(frozen=True)
class ExportOptions:
    format: str
    include_timestamps: bool = True
    max_characters_per_line: int | None = None
    segment_on_silence_longer_than_s: float | None = None
    max_segment_duration_s: float | None = None
    max_segment_chars: int | None = None


@dataclass(frozen=True)
class Export:
    format: str
    file_extension: str
    content_type: str
    content: str


def export(transcript: Transcript, options: ExportOptions) -> Export:
    """Raises ValueError for a format not in FORMATS."""
    segments = _segments(transcript, options)
    if options.format == "srt":
        return Export("srt", "srt", "application/x-subrip", _srt(segments, options))
    if options.format == "txt":
        return Export("txt", "txt", "text/plain", _txt(segments, options))
    if options.format == "segmented_json":
        return Export("segmented_json", "json", "application/json", _segmented_json(transcript, segments))
    if options.format == "html":
        return Export("html", "html", "text/html", _html(segments, options))
    raise ValueError(f"unknown export format {options.format!r}")


def _segments(transcript: Transcript, options: ExportOptions) -> tuple[Segment, ...]:
    cuts = (
        options.segment_on_silence_longer_than_s,
        options.max_segment_duration_s,
        options.max_segment_chars,
    )
    if all(cut is None for cut in cuts):
        return transcript.segments
    segments: list[Segment] = []
    current: list[Word] = []
    for word in (word for word in transcript.words if word.kind != "spacing"):
        if current and _cut_before(current, word, options):
            segments.append(_segment(current))
            current = []
        current.append(word)
    if current:
        segments.append(_segment(current))
    return tuple(segments)


def _cut_before(current: list[Word], word: Word, options: ExportOptions) -> bool:
    silence = options.segment_on_silence_longer_than_s
    longest = options.max_segment_duration_s
    chars = options.max_segment_chars
    text = " ".join(item.text for item in current)
    return (
        (silence is not None and word.start - current[-1].end > silence)
        or (longest is not None and word.end - current[0].start > longest)
        or (chars is not None and len(text) + 1 + len(word.text) > chars)
    )


def _segment(words: list[Word]) -> Segment:
    spaced: list[Word] = []
    for word in words:
        if spaced:
            spaced.append(Word(" ", spaced[-1].end, word.start, "spacing", 0.0))
        spaced.append(word)
    return Segment(" ".join(word.text for word in words), words[0].start, words[-1].end, tuple(spaced))


def _lines(text: str, width: int | None) -> str:
    return "\n".join(textwrap.wrap(text, width)) if width else text


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{millis:03d}"


def _srt(segments: tuple[Segment, ...], options: ExportOptions) -> str:
    blocks = [
        f"{number}\n{_clock(segment.start, ',')} --> {_clock(segment.end, ',')}\n"
        f"{_lines(segment.text.strip(), options.max_characters_per_line)}\n"
        for number, segment in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def _txt(segments: tuple[Segment, ...], options: ExportOptions) -> str:
    lines = []
    for segment in segments:
        text = _lines(segment.text.strip(), options.max_characters_per_line)
        if options.include_timestamps:
            text = f"[{_clock(segment.start, '.')} - {_clock(segment.end, '.')}] {text}"
        lines.append(text)
    return "\n".join(lines) + "\n"


def _segmented_json(transcript: Transcript, segments: tuple[Segment, ...]) -> str:
    body = {
        "language_code": iso639_3(transcript.language),
        "segments": [
            {
                "text": segment.text.strip(),
                "start_time": segment.start,
                "end_time": segment.end,
                "words": [
                    {"text": word.text, "start_time": word.start, "end_time": word.end, "type": word.kind}
                    for word in segment.words
                ],
            }
            for segment in segments
        ],
    }
    return json.dumps(body, ensure_ascii=False)


def _html(segments: tuple[Segment, ...], options: ExportOptions) -> str:
    paragraphs = []
    for segment in segments:
        stamp = f"<b>{_clock(segment.start, '.')}</b> " if options.include_timestamps else ""
        paragraphs.append(f"<p>{stamp}{html.escape(segment.text.strip())}</p>")
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(paragraphs) + "\n</body></html>\n"
