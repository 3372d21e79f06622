"""PLS lexicons: what a file's lexemes become, what is refused (hostile XML above all), and the file
written from rules reads back as the same rules."""

from __future__ import annotations

import pytest

from intone.speech.lexicon import AliasRule, PhonemeRule
from intone.speech.pls import LexiconError, read, write

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon" '
    'alphabet="{alphabet}" xml:lang="en-US">\n'
)


def lexicon(body: str, alphabet: str = "ipa") -> bytes:
    return (HEAD.format(alphabet=alphabet) + body + "</lexicon>\n").encode()


def test_the_documented_example_reads_as_one_rule_per_lexeme():
    data = lexicon(
        "<lexeme><grapheme>Apple</grapheme><phoneme>ˈæpl̩</phoneme></lexeme>"
        "<lexeme><grapheme>UN</grapheme><alias>United Nations</alias></lexeme>"
    )
    assert read(data, 100) == [PhonemeRule("Apple", "ˈæpl̩", "ipa"), AliasRule("UN", "United Nations")]


def test_every_grapheme_gets_the_preferred_pronunciation():
    data = lexicon(
        "<lexeme><grapheme>tomato</grapheme><grapheme>Tomato</grapheme>"
        "<phoneme>təˈmeɪtoʊ</phoneme><phoneme prefer='true'>təˈmɑːtəʊ</phoneme></lexeme>"
    )
    assert read(data, 100) == [
        PhonemeRule("tomato", "təˈmɑːtəʊ", "ipa"),
        PhonemeRule("Tomato", "təˈmɑːtəʊ", "ipa"),
    ]


@pytest.mark.parametrize("name", ["x-cmu", "cmu-arpabet", "X-CMU"])
def test_cmu_arpabet_by_either_name_on_the_lexicon_or_a_phoneme(name: str):
    whole = lexicon("<lexeme><grapheme>talon</grapheme><phoneme>T AE1 L AH0 N</phoneme></lexeme>", name)
    assert read(whole, 10) == [PhonemeRule("talon", "T AE1 L AH0 N", "cmu-arpabet")]
    own = lexicon(f"<lexeme><grapheme>talon</grapheme><phoneme alphabet='{name}'>T AE1 L</phoneme></lexeme>")
    assert read(own, 10) == [PhonemeRule("talon", "T AE1 L", "cmu-arpabet")]


def test_text_is_trimmed_and_unknown_elements_and_comments_are_skipped():
    data = lexicon(
        "<!-- brand names --><meta name='x' content='y'/>"
        "<lexeme>\n  <grapheme> nginx </grapheme>\n  <example>nginx serves it</example>\n"
        "  <alias>\n engine x \n</alias>\n</lexeme>"
    )
    assert read(data, 10) == [AliasRule("nginx", "engine x")]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lexicon alphabet="ipa"><lexeme><grapheme>lol</grapheme><alias>&lol9;</alias></lexeme></lexicon>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<lexicon alphabet="ipa"><lexeme><grapheme>x</grapheme><alias>&secret;</alias></lexeme></lexicon>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE lexicon SYSTEM "http://127.0.0.1:9/pls.dtd">
<lexicon alphabet="ipa"><lexeme><grapheme>x</grapheme><alias>y</alias></lexeme></lexicon>"""


@pytest.mark.parametrize(
    "data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["laughs", "entity", "dtd"]
)
def test_a_doctype_is_refused_before_anything_in_it_is_used(data: bytes):
    with pytest.raises(LexiconError, match="refused for safety"):
        read(data, 100)


def test_an_entity_never_declared_is_malformed_xml():
    with pytest.raises(LexiconError, match="not well-formed"):
        read(lexicon("<lexeme><grapheme>&secret;</grapheme><alias>a</alias></lexeme>"), 10)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"", "not well-formed"),
        (b"grapheme,alias\nUN,United Nations\n", "not well-formed"),
        (lexicon("<lexeme><grapheme>a</grapheme>"), "not well-formed"),
        (b"<speak>hello</speak>", "root element is <lexicon>, not <speak>"),
        (lexicon("", "x-sampa"), 'alphabet "x-sampa"'),
        (
            lexicon("<lexeme><grapheme>a</grapheme><phoneme alphabet='klingon'>b</phoneme></lexeme>"),
            "klingon",
        ),
        (lexicon("<lexeme><alias>United Nations</alias></lexeme>"), "Lexeme 1 has no <grapheme>"),
        (lexicon("<lexeme><grapheme>UN</grapheme></lexeme>"), "neither <alias> nor <phoneme>"),
        (
            lexicon("<lexeme><grapheme> </grapheme><alias>x</alias></lexeme>"),
            "A <grapheme> of lexeme 1 is empty",
        ),
        (lexicon("<lexeme><grapheme>a</grapheme><alias/></lexeme>"), "The <alias> of lexeme 1 is empty"),
        (lexicon("<lexeme><grapheme>a&#0;</grapheme><alias>b</alias></lexeme>"), "not well-formed"),
    ],
)
def test_what_is_no_readable_lexicon_says_why(data: bytes, complaint: str):
    with pytest.raises(LexiconError) as error:
        read(data, 10)
    assert complaint in str(error.value)


def test_reading_stops_past_the_rule_limit():
    three = (
        "<lexeme><grapheme>a</grapheme><grapheme>b</grapheme><grapheme>c</grapheme><alias>x</alias></lexeme>"
    )
    assert len(read(lexicon(three), 3)) == 3
    with pytest.raises(LexiconError, match="more than 3 rules"):
        read(lexicon(three + "<lexeme><grapheme>d</grapheme><alias>y</alias></lexeme>"), 3)


def test_rules_written_read_back_the_same_with_markup_characters_escaped():
    rules = [
        AliasRule("AT&T", 'A T and T <"the company">'),
        PhonemeRule("tomato", "təˈmeɪtoʊ", "ipa"),
        PhonemeRule("talon", "T AE1 L AH0 N", "cmu-arpabet"),
        AliasRule("UN", "United Nations"),
    ]
    written = write(rules)
    assert written.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b'alphabet="ipa"' in written  # the first phoneme rule's, on the lexicon
    assert b'<phoneme alphabet="cmu-arpabet">T AE1 L AH0 N</phoneme>' in written
    assert b"<alias>United Nations</alias>" in written
    assert read(written, 10) == rules


def test_the_lexicon_takes_the_first_phoneme_rules_alphabet():
    written = write([AliasRule("UN", "United Nations"), PhonemeRule("talon", "T AE1 L", "cmu-arpabet")])
    assert b'alphabet="cmu-arpabet" xml:lang' in written and b"<phoneme>T AE1 L</phoneme>" in written
    assert write([]).endswith(b'alphabet="ipa" xml:lang="en-US">\n</lexicon>\n')
    assert read(write([]), 10) == []
