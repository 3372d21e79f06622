"""Tags in request text, read into marked text (`marked.py`).

Two syntaxes, as ElevenLabs has them:

- SSML tags, on every model: `<break time="1.5s" />` (seconds or milliseconds, "500ms"; longer than
  `MAX_BREAK_SECONDS` is clamped to it, as ElevenLabs handles pauses up to 3 s) is a pause, and
  `<phoneme alphabet="ipa" ph="...">word</phoneme>` (or `alphabet="cmu-arpabet"`) gives the word its
  pronunciation. Tag and attribute names are case-insensitive; a break may end in `/>` or `>`. Any other
  angle-bracket text ("a < b", "<b>") is ordinary text. A break or phoneme tag that cannot be read
  (unclosed, an unknown alphabet or attribute, no `ph`, a tag inside a phoneme tag, a time that is not a
  duration) raises InvalidMarkup, so markup is never spoken.
- Audio tags, on eleven_v3 only: a bracketed direction such as `[laughs]` or `[whispers]` is never
  spoken. `[short pause]`, `[pause]` and `[long pause]` are pauses (`AUDIO_TAG_PAUSES`); the others have
  no engine control to act on and are dropped. Text in brackets longer than `MAX_AUDIO_TAG` characters,
  or across a line, is ordinary text, as is a bracket never closed.

`held_back` tells the WebSocket text buffer where a tag starts that has not arrived whole yet.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from intone.speech.errors import InvalidMarkup
from intone.speech.lexicon import Alphabet
from intone.speech.text.ipa import to_ipa
from intone.speech.text.marked import MarkedText, Pause, Piece, Say, Sound

MAX_BREAK_SECONDS = 3.0
AUDIO_TAG_PAUSES = {"short pause": 0.4, "pause": 0.8, "long pause": 1.5}
MAX_AUDIO_TAG = 64  # characters between the brackets
# The longest a phoneme tag (with its word and closing tag) or a break tag may take to arrive on a
# socket before the buffer stops waiting for its end: then it is read as it is, and is an error.
MAX_TAG = 500
AUDIO_TAG_MODELS = frozenset({"eleven_v3"})
_ALPHABETS: tuple[Alphabet, ...] = ("ipa", "cmu-arpabet")
_ATTRIBUTES = {"break": frozenset({"time"}), "phoneme": frozenset({"alphabet", "ph"})}
_NAMES = ("break", "phoneme", "/phoneme")

# Where a tag starts: "<break", "<phoneme" or "</phoneme" ending the name.
_ANGLE = re.compile(r"<(?=/?(?:break|phoneme)(?![\w:.-]))", re.IGNORECASE)
_OPEN = re.compile(
    r"""<(?P<name>break|phoneme)(?P<attributes>(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(?P<slash>/?)>""",
    re.IGNORECASE,
)
_ATTRIBUTE = re.compile(r"""\s+(?P<name>[^\s=/>]+)\s*=\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)')""")
_CLOSE = re.compile(r"</phoneme\s*>", re.IGNORECASE)
_DURATION = re.compile(r"\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s)\s*", re.IGNORECASE)
_AUDIO_TAG = re.compile(rf"\[(?P<name>[^\[\]\n]{{1,{MAX_AUDIO_TAG}}})\]")


@dataclass(frozen=True)
class Syntax:
    """Which tags a text may hold."""

    ssml: bool = True  # <break> and <phoneme>
    audio_tags: bool = False  # eleven_v3's [directions]

    @staticmethod
    def of(model_id: str, ssml: bool = True) -> Syntax:
        return Syntax(ssml=ssml, audio_tags=model_id in AUDIO_TAG_MODELS)


def read_markup(text: str, syntax: Syntax) -> MarkedText:
    """The text as pieces; raises InvalidMarkup for a break or phoneme tag that cannot be read."""
    pieces: list[Piece] = []
    read = 0  # the text before this is in `pieces`
    position = 0  # where to look for the next tag
    while (start := _next_tag(text, position, syntax)) is not None:
        if text[start] == "[":
            match = _AUDIO_TAG.match(text, start)
            if match is None:
                position = start + 1  # a bracket that opens no tag is text
                continue
            piece, end = _audio_tag(match), match.end()
        else:
            piece, end = _angle_tag(text, start)
        _say(pieces, text, read, start)
        if piece is not None:
            pieces.append(piece)
        read = position = end
    _say(pieces, text, read, len(text))
    return tuple(pieces)


def held_back(text: str, syntax: Syntax) -> list[tuple[int, int | None]]:
    """Spans of streamed text no segment edge may cut: each tag whole (a phoneme tag with its word and
    closing tag), and last, with end None, a tag that has started but not yet arrived whole ("<bre",
    `<phoneme ph="x">wo`, "[laug"). Nothing is checked here: a held tag is read once it is whole."""
    spans: list[tuple[int, int | None]] = []
    position = 0
    while (start := _next_tag(text, position, syntax, partial=True)) is not None:
        end = _tag_end(text, start)
        if end is not None:
            spans.append((start, end))
            position = end
        elif _arriving(text, start):
            spans.append((start, None))
            break
        else:
            position = start + 1  # it can no longer become a tag: text
    return spans


def _next_tag(text: str, position: int, syntax: Syntax, partial: bool = False) -> int | None:
    """Where the next tag starts at or after `position`. With `partial`, the end of the text may be the
    start of a tag name still to come ("<ph")."""
    candidates = []
    if syntax.ssml:
        found = _ANGLE.search(text, position)
        if found:
            candidates.append(found.start())
        if partial and (tail := _partial_angle(text, position)) is not None:
            candidates.append(tail)
    if syntax.audio_tags and (bracket := text.find("[", position)) >= 0:
        candidates.append(bracket)
    return min(candidates, default=None)


def _partial_angle(text: str, position: int) -> int | None:
    """The start of a "<" near the end whose name is a beginning of a tag name."""
    start = text.rfind("<", position)
    rest = text[start + 1 :].lower() if start >= 0 else None
    if rest is not None and any(len(rest) < len(name) and name.startswith(rest) for name in _NAMES):
        return start
    return None


def _tag_end(text: str, start: int) -> int | None:
    """Where the tag (with a phoneme tag's word and closing tag) starting at `start` ends; None while it
    is not whole, or if it is no tag."""
    if text[start] == "[":
        tag = _AUDIO_TAG.match(text, start)
        return tag.end() if tag else None
    end = text.find(">", start)
    if end < 0:
        return None
    if text[start + 1 : start + 8].lower() != "phoneme" or text[end - 1] == "/":
        return end + 1
    close = _CLOSE.search(text, end)
    return close.end() if close else None


def _arriving(text: str, start: int) -> bool:
    """Whether the unfinished tag at `start` may still be completed by text to come."""
    rest = text[start + 1 :]
    if text[start] == "[":
        return len(rest) <= MAX_AUDIO_TAG and not any(char in "[]\n" for char in rest)
    return len(rest) < MAX_TAG


def _say(pieces: list[Piece], text: str, start: int, end: int) -> None:
    if end > start:
        pieces.append(Say(text[start:end], tuple(range(start, end))))


def _audio_tag(match: re.Match[str]) -> Pause | None:
    name = " ".join(match["name"].lower().split())
    seconds = AUDIO_TAG_PAUSES.get(name)
    if seconds is None:
        return None  # no engine control for it: the direction is dropped
    return Pause(seconds, match[0], tuple(range(match.start(), match.end())))


def _angle_tag(text: str, start: int) -> tuple[Piece, int]:
    if _CLOSE.match(text, start):
        raise _error(text, start, "closes no <phoneme> tag")
    tag = _OPEN.match(text, start)
    if tag is None:
        example = '<break time="1s" /> or <phoneme alphabet="ipa" ph="...">word</phoneme>'
        raise _error(text, start, f"is not a complete tag: write it as {example}, values in quotes")
    name = tag["name"].lower()
    attributes = _attributes(text, start, name, tag["attributes"])
    if name == "break":
        seconds = _break_seconds(text, start, attributes)
        return Pause(seconds, tag[0], tuple(range(start, tag.end()))), tag.end()
    return _phoneme(text, start, tag, attributes)


def _attributes(text: str, start: int, name: str, written: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for attribute in _ATTRIBUTE.finditer(written):
        key = attribute["name"].lower()
        if key not in _ATTRIBUTES[name]:
            allowed = " and ".join(sorted(_ATTRIBUTES[name]))
            raise _error(text, start, f"has an attribute '{key}'; a <{name}> tag takes {allowed}")
        if key in values:
            raise _error(text, start, f"has the attribute '{key}' twice")
        value = attribute["double"] if attribute["double"] is not None else attribute["single"]
        values[key] = html.unescape(value)
    return values


def _break_seconds(text: str, start: int, attributes: dict[str, str]) -> float:
    duration = _DURATION.fullmatch(attributes.get("time", ""))
    if duration is None:
        raise _error(text, start, 'needs a time such as time="1.5s" or time="500ms"')
    seconds = float(duration["value"]) / (1000 if duration["unit"].lower() == "ms" else 1)
    return min(seconds, MAX_BREAK_SECONDS)


def _phoneme(text: str, start: int, tag: re.Match[str], attributes: dict[str, str]) -> tuple[Sound, int]:
    if tag["slash"]:
        raise _error(text, start, "pronounces no word: write <phoneme ...>word</phoneme>")
    close = _CLOSE.search(text, tag.end())
    if close is None:
        raise _error(text, start, "is never closed with </phoneme>")
    word = text[tag.end() : close.start()]
    if _ANGLE.search(word):
        raise _error(text, start, "holds another tag; a <phoneme> tag holds only the word it pronounces")
    if not word.strip():
        raise _error(text, start, "pronounces no word: write <phoneme ...>word</phoneme>")
    alphabet = attributes.get("alphabet", "").lower()
    if alphabet not in _ALPHABETS:
        raise _error(text, start, f'needs alphabet="ipa" or alphabet="cmu-arpabet", not \'{alphabet}\'')
    if "ph" not in attributes:
        raise _error(text, start, "needs the pronunciation in its ph attribute")
    try:
        phonemes = to_ipa(attributes["ph"], alphabet)  # type: ignore[arg-type]
    except ValueError as error:
        raise _error(text, start, f"has a ph attribute that cannot be read: {error}") from None
    return Sound(phonemes, word, tuple(range(tag.end(), close.start()))), close.end()


def _error(text: str, start: int, problem: str) -> InvalidMarkup:
    excerpt = text[start : start + 60] + ("..." if len(text) > start + 60 else "")
    return InvalidMarkup(f"The tag at character {start} ({excerpt}) {problem}.")
