"""Splitting text into synthesis chunks for streaming.

A chunk is what an engine speaks with one prosody, so chunks follow sentences: intonation is planned
over the whole chunk. Audio leaves long before a chunk is done (the engines decode it in windows, see
`speech/windows.py`), so the first chunk need not be short to start quickly: it is the first sentence
on its own, never merged with the next (its prosody is computed before the first window), and cut at a
clause only when the sentence is very long. Later chunks are whole sentences, merged while short and
split at clauses, then at spaces, while long. Chunks are contiguous spans that together cover the text
exactly, so nothing is ever dropped.

A word is only cut when it is a run of characters without a space longer than `ChunkPlan.run_maximum`
(a word of thousands of letters, a long URL): such a run is read in pieces of at most that length, each
ending a chunk, cut after punctuation where the run has some. This bounds what the front end and the
engines get in one word: espeak-ng aborts the whole process (a stack overflow) on letters each followed
by a dot ("a.b.c.", spelled as one abbreviation) from 64 of them (200 in ASCII), and reads only part of
a word of hundreds of letters. Chinese punctuation ends a run like a space, so Chinese text keeps its
sentence chunks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]]*(?=\s|$)|\n\s*\n|[。！？]")
_CLAUSE_END = re.compile(r"[,;:—–、，；：]+(?=\s)|[.!?…。！？]+(?=\s|$)|\n")
_SPACE = re.compile(r"\s+")
# What is read as one run: characters up to a space or a Chinese clause or sentence mark.
_RUN = re.compile(r"[^\s。！？，、；：]+")


@dataclass(frozen=True)
class ChunkPlan:
    """How large chunks may be, in characters."""

    # The first chunk is the first sentence if it ends by here, else it ends at the last clause (then
    # space) before it: its prosody is computed before any audio leaves, and that time grows with it.
    first_max: int = 120
    first_min: int = 8  # ... but a clause shorter than this is joined with the next
    target: int = 220  # later chunks grow by whole sentences up to this
    maximum: int = 300  # and are split at clauses, then spaces, beyond this
    # No chunk holds more than this of one run of characters without a space (see the module docstring).
    # Far below espeak-ng's abbreviation overflow (measured from 64 dotted letters of 4 UTF-8 bytes).
    run_maximum: int = 64


# Each engine's plan when a request names none. Piper plans a chunk's prosody in one pass whose time grows
# faster than the chunk (on one core: 26-29 ms for a 42-character sentence, 163-196 ms for 215
# characters), all before the chunk's first window, so a merged chunk made one engine step twice as long
# as the others, and many streams reaching it together overran their deadlines. Piper itself speaks text
# one sentence at a time; so does Intone (docs/speech.md).
_ENGINE_PLANS = {"piper": ChunkPlan(target=0)}


def engine_plan(engine: str) -> ChunkPlan:
    """How the named engine's text is chunked by default."""
    return _ENGINE_PLANS.get(engine, ChunkPlan())


def chunk_spans(text: str, plan: ChunkPlan = ChunkPlan()) -> list[tuple[int, int]]:
    """Contiguous (start, end) spans covering `text`; none is empty or only whitespace."""
    if not text.strip():
        return [(0, len(text))] if text else []
    spans: list[tuple[int, int]] = []
    start = 0
    first = _first_end(text, plan)
    if first < len(text):
        spans.append((0, first))
        start = first
    for sentence_end in _sentence_ends(text, start):
        spans.extend(_fit(text, start, sentence_end, plan))
        start = sentence_end
    return _cut_runs(_merge_short(spans, text, plan), text, plan.run_maximum)


def marked_chunk_spans(
    text: str,
    pauses: Sequence[tuple[int, int]],
    whole: Sequence[tuple[int, int]],
    plan: ChunkPlan = ChunkPlan(),
) -> list[tuple[int, int]]:
    """`chunk_spans` for text with pauses and spans to keep whole (both sorted, not overlapping): each
    pause ends a chunk (text between pauses is chunked on its own), and no chunk edge falls inside a
    span of `whole` (a word with fixed phonemes is never cut; a cut inside one moves to its end)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for pause_start, pause_end in pauses:
        _extend(spans, text, start, pause_start, plan)
        if spans and spans[-1][1] == pause_start:
            spans[-1] = (spans[-1][0], pause_end)
        else:
            spans.append((start, pause_end))
        start = pause_end
    _extend(spans, text, start, len(text), plan)
    return _keep_whole(spans, whole)


def _extend(spans: list[tuple[int, int]], text: str, start: int, end: int, plan: ChunkPlan) -> None:
    """Chunks of text[start:end] added to `spans`; whitespace alone joins the chunk before it."""
    if start == end:
        return
    if spans and not text[start:end].strip():
        spans[-1] = (spans[-1][0], end)
        return
    spans.extend((start + a, start + b) for a, b in chunk_spans(text[start:end], plan))


def _keep_whole(spans: list[tuple[int, int]], whole: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    if not whole:
        return spans
    edges = [spans[0][0]]
    for _, end in spans:
        inside = next((b for a, b in whole if a < end < b), None)
        edge = inside if inside is not None else end
        if edge > edges[-1]:
            edges.append(edge)
    return list(pairwise(edges))


def _cut_runs(spans: list[tuple[int, int]], text: str, limit: int) -> list[tuple[int, int]]:
    """Cuts each span's runs longer than `limit` into pieces that are no longer, each its own span."""
    pieces = []
    for start, end in spans:
        pieces.extend(pairwise([start, *_run_cuts(text, start, end, limit), end]))
    return pieces


def _run_cuts(text: str, start: int, end: int, limit: int) -> list[int]:
    cuts = []
    for run in _RUN.finditer(text, start, end):
        cut = run.start()
        while run.end() - cut > limit:
            cut = _piece_end(text, cut, limit)
            cuts.append(cut)
    return cuts


def _piece_end(text: str, start: int, limit: int) -> int:
    """After the piece's last punctuation mark in its second half, else at the limit (never inside a
    combining sequence)."""
    for end in range(start + limit, start + limit // 2, -1):
        if unicodedata.category(text[end - 1]).startswith("P") and _separable(text, end):
            return end
    return _grapheme_cut(text, start, start + limit)


def _first_end(text: str, plan: ChunkPlan) -> int:
    for match in _SENTENCE_END.finditer(text, 0, plan.first_max + 1):
        end = _after_space(text, match.end())
        if len(text[:end].strip()) >= plan.first_min:
            return end
    clauses = [_after_space(text, m.end()) for m in _CLAUSE_END.finditer(text, 0, plan.first_max + 1)]
    clauses = [end for end in clauses if len(text[:end].strip()) >= plan.first_min]
    if clauses and len(text) > plan.first_max:
        return clauses[-1]
    if len(text) <= plan.first_max:
        return len(text)
    return _cut_at_space(text, 0, plan.first_max)


def _sentence_ends(text: str, start: int) -> list[int]:
    ends = [_after_space(text, match.end()) for match in _SENTENCE_END.finditer(text, start)]
    ends = [end for end in ends if end > start]
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return sorted(set(ends))


def _fit(text: str, start: int, end: int, plan: ChunkPlan) -> list[tuple[int, int]]:
    """Splits one sentence span so that no piece exceeds `plan.maximum`."""
    pieces = []
    while end - start > plan.maximum:
        cut = _cut_at_clause(text, start, start + plan.maximum, plan)
        pieces.append((start, cut))
        start = cut
    if end > start:
        pieces.append((start, end))
    return pieces


def _cut_at_clause(text: str, start: int, limit: int, plan: ChunkPlan) -> int:
    cuts = [_after_space(text, m.end()) for m in _CLAUSE_END.finditer(text, start, limit)]
    cuts = [cut for cut in cuts if start + plan.maximum // 3 <= cut <= limit]
    return cuts[-1] if cuts else _cut_at_space(text, start, limit)


def _cut_at_space(text: str, start: int, limit: int) -> int:
    spaces = [m.end() for m in _SPACE.finditer(text, start, limit) if m.start() > start]
    if spaces:
        return spaces[-1]
    # One run of characters longer than a chunk: cut it as a run's pieces are cut.
    return _piece_end(text, start, limit - start)


def _grapheme_cut(text: str, start: int, limit: int) -> int:
    """`limit`, or the nearest cut before it (after `start`) that splits no combining sequence."""
    cut = limit
    while cut > start + 1 and not _separable(text, cut):
        cut -= 1
    return cut


def _separable(text: str, index: int) -> bool:
    """Whether a cut before `index` splits no combining sequence."""
    return not (unicodedata.combining(text[index]) or _is_joiner(text[index - 1]))


def _is_joiner(char: str) -> bool:
    return char in "\u200d\ufe0f" or unicodedata.category(char) == "Cs"


def _after_space(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    return match.end() if match else index


def _merge_short(spans: list[tuple[int, int]], text: str, plan: ChunkPlan) -> list[tuple[int, int]]:
    """Joins neighbouring sentences (never into the first chunk) while they fit `plan.target`,
    and folds whitespace-only pieces into their neighbour."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and (not text[start:end].strip() or _joinable(merged, start, end, plan)):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _joinable(merged: list[tuple[int, int]], start: int, end: int, plan: ChunkPlan) -> bool:
    return len(merged) > 1 and end - merged[-1][0] <= plan.target
