"""PLS lexicons (W3C Pronunciation Lexicon Specification 1.0): read into rules, and written from them.

A lexicon comes from a client, so it is read with defusedxml, which refuses what makes XML dangerous:
any DOCTYPE (no entity can be declared, so none expands, billion laughs included) and any external
reference. It is read as a stream, each lexeme dropped once read, and reading stops at `max_rules`: a
file holds no more in memory than its size (bounded by the API before it gets here).

Each `<grapheme>` of a `<lexeme>` becomes one rule with the lexeme's preferred pronunciation (the one
marked `prefer="true"`, else the first): an `<alias>` makes an alias rule, a `<phoneme>` a phoneme rule
in its own `alphabet` or the lexicon's. PLS graphemes match as written, so the rules are case-sensitive
and match whole words, as ElevenLabs reads a lexicon.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree

from intone.speech.lexicon import AliasRule, Alphabet, PhonemeRule, Rule

NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
# How the `alphabet` attribute may name the two alphabets: PLS wants vendor alphabets to start with
# "x-"; ElevenLabs' own name for CMU's is "cmu-arpabet".
ALPHABETS: dict[str, Alphabet] = {"ipa": "ipa", "cmu-arpabet": "cmu-arpabet", "x-cmu": "cmu-arpabet"}

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0"\n'
    f'      xmlns="{NAMESPACE}"\n'
    '      xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
    f'      xsi:schemaLocation="{NAMESPACE}\n'
    '        http://www.w3.org/TR/2007/CR-pronunciation-lexicon-20071212/pls.xsd"\n'
    '      alphabet="{alphabet}" xml:lang="en-US">\n'
)


class LexiconError(ValueError):
    """A file that is no PLS lexicon Intone can read; the message says what is wrong, for the client."""


def read(data: bytes, max_rules: int) -> list[Rule]:
    """The rules of a PLS lexicon, in the file's order. Raises LexiconError."""
    try:
        return list(_rules(_events(data), max_rules))
    except defusedxml.DefusedXmlException as error:
        raise LexiconError(
            f"The lexicon uses XML that is refused for safety ({type(error).__name__}): a PLS file needs "
            "no DOCTYPE, entity or external reference."
        ) from None
    except defusedxml.ElementTree.ParseError as error:
        raise LexiconError(f"The lexicon is not well-formed XML: {error}.") from None


def write(rules: Sequence[Rule]) -> bytes:
    """A PLS lexicon of the rules, one lexeme each, in order. The lexicon's alphabet is that of its first
    phoneme rule; a phoneme in another alphabet names its own. PLS has no place for a rule's
    case_sensitive and word_boundaries, so they are not written."""
    phonemes = [rule.alphabet for rule in rules if isinstance(rule, PhonemeRule)]
    alphabet = phonemes[0] if phonemes else "ipa"
    lexemes = "".join(_lexeme(rule, alphabet) for rule in rules)
    return (_HEAD.format(alphabet=alphabet) + lexemes + "</lexicon>\n").encode()


def _lexeme(rule: Rule, alphabet: Alphabet) -> str:
    if isinstance(rule, AliasRule):
        pronunciation = f"<alias>{escape(rule.alias)}</alias>"
    else:
        own = f" alphabet={quoteattr(rule.alphabet)}" if rule.alphabet != alphabet else ""
        pronunciation = f"<phoneme{own}>{escape(rule.phoneme)}</phoneme>"
    return (
        f"  <lexeme>\n    <grapheme>{escape(rule.string_to_replace)}</grapheme>\n"
        f"    {pronunciation}\n  </lexeme>\n"
    )


def _events(data: bytes) -> Iterator[tuple[str, Element]]:
    return defusedxml.ElementTree.iterparse(
        io.BytesIO(data), events=("start", "end"), forbid_dtd=True, forbid_entities=True
    )


def _rules(events: Iterable[tuple[str, Element]], max_rules: int) -> Iterator[Rule]:
    alphabet: Alphabet | None = None
    count = lexemes = 0
    for event, element in events:
        name = _local(element.tag)
        if alphabet is None:  # the first event: the root starts
            if name != "lexicon":
                raise LexiconError(f"A PLS lexicon's root element is <lexicon>, not <{name}>.")
            alphabet = _alphabet(element.get("alphabet", "ipa"), "the <lexicon>")
            continue
        if event != "end" or name != "lexeme":
            continue
        lexemes += 1
        for rule in _lexeme_rules(element, alphabet, lexemes):
            count += 1
            if count > max_rules:
                raise LexiconError(f"The lexicon holds more than {max_rules} rules, the most one may hold.")
            yield rule
        element.clear()  # read: its memory goes


def _lexeme_rules(lexeme: Element, alphabet: Alphabet, number: int) -> list[Rule]:
    children = [(_local(child.tag), child) for child in lexeme]
    graphemes = [
        _text(child, f"a <grapheme> of lexeme {number}") for name, child in children if name == "grapheme"
    ]
    pronunciations = [(name, child) for name, child in children if name in ("alias", "phoneme")]
    if not graphemes:
        raise LexiconError(f"Lexeme {number} has no <grapheme>: a lexeme says which text it is for.")
    if not pronunciations:
        raise LexiconError(f"Lexeme {number} has neither <alias> nor <phoneme>: nothing to say instead.")
    preferred = [pair for pair in pronunciations if pair[1].get("prefer") == "true"]
    name, chosen = (preferred or pronunciations)[0]
    said = _text(chosen, f"the <{name}> of lexeme {number}")
    if name == "alias":
        return [AliasRule(grapheme, said) for grapheme in graphemes]
    own = (
        _alphabet(chosen.get("alphabet"), f"the <phoneme> of lexeme {number}")
        if chosen.get("alphabet")
        else alphabet
    )
    return [PhonemeRule(grapheme, said, own) for grapheme in graphemes]


def _alphabet(value: str, where: str) -> Alphabet:
    alphabet = ALPHABETS.get(value.strip().lower())
    if alphabet is None:
        known = ", ".join(f'"{name}"' for name in ALPHABETS)
        raise LexiconError(f'The alphabet "{value}" of {where} is not one Intone reads ({known}).')
    return alphabet


def _text(element: Element, what: str) -> str:
    text = "".join(element.itertext()).strip()
    if not text:
        raise LexiconError(f"{what[0].upper()}{what[1:]} is empty.")
    return text


def _local(tag: object) -> str:
    """An element's name without its namespace ("{uri}lexeme" -> "lexeme")."""
    return str(tag).rpartition("}")[2]
