"""Splitting text into synthesis chunks for streaming.

The first chunk is short (its first clause, or a few words) so audio starts quickly; later chunks are
whole sentences, merged while short and split at clauses, then at spaces, while long. Chunks are
contiguous spans that together cover the text exactly, so nothing is ever dropped. A word is only cut
when a single run of characters without any space is longer than a whole chunk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]]*(?=\s|$)|\n\s*\n|[。！？]")
_CLAUSE_END = re.compile(r"[,;:—–、，；：]+(?=\s)|[.!?…。！？]+(?=\s|$)|\n")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ChunkPlan:
    """How large chunks may be, in characters."""

    first_max: int = 60  # the first chunk ends at its first clause if that comes by here
    first_min: int = 8  # ... but a clause shorter than this is joined with the next
    target: int = 220  # later chunks grow by whole sentences up to this
    maximum: int = 300  # and are split at clauses, then spaces, beyond this

    @staticmethod
    def for_latency(level: int | None) -> ChunkPlan:
        """The plan for an `optimize_streaming_latency` level (0-4): a shorter first chunk as it rises,
        so the first audio comes sooner at the cost of a less natural first phrase."""
        first_max, first_min = _FIRST_CHUNK_BY_LATENCY[min(max(level or 0, 0), 4)]
        return ChunkPlan(first_max=first_max, first_min=first_min)


_FIRST_CHUNK_BY_LATENCY = {0: (60, 8), 1: (45, 8), 2: (32, 6), 3: (20, 4), 4: (20, 4)}


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
    return _merge_short(spans, text, plan)


def _first_end(text: str, plan: ChunkPlan) -> int:
    for match in _CLAUSE_END.finditer(text, 0, plan.first_max + 1):
        end = _after_space(text, match.end())
        if len(text[:end].strip()) >= plan.first_min:
            return end
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
    # One run of characters longer than a chunk: cut it, but never inside a combining sequence.
    cut = limit
    while cut > start + 1 and (unicodedata.combining(text[cut]) or _is_joiner(text[cut - 1])):
        cut -= 1
    return cut


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
