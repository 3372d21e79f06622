"""The Mandarin front end: misaki's phonemes for Kokoro, word by word, each tied to its characters."""

from __future__ import annotations

import itertools
import json

from misaki.zh import ZHG2P

from intone.engines import kokoro
from intone.speech.mandarin import mandarin_units


def test_the_phonemes_are_misakis():
    text = "今天天气很好，我们去公园散步吧。"
    units = mandarin_units(text)
    assert "".join(unit.phonemes for unit in units).strip() == ZHG2P()(text)[0]


def test_units_cover_their_characters_in_order():
    text = "我有3个苹果，价格是12.5元！"
    units = mandarin_units(text)
    words = [(text[unit.start : unit.end], unit.phonemes) for unit in units if unit.phonemes != " "]
    assert words[:5] == [("我", "wo↓"), ("有", "jou↓"), ("3", "sa→n"), ("个", "kɤ↘"), ("苹果", "pʰi↗ŋkwo↓")]
    assert ("12.5", ZHG2P.word2ipa("十二点五")) in words  # numbers are read in Chinese
    assert ("，", ",") in words and ("！", "!") in words
    ends = [unit.end for unit in units]
    assert all(a.end <= b.start for a, b in itertools.pairwise(units))
    assert max(ends) == len(text)


def test_every_symbol_is_in_kokoros_vocabulary():
    vocab = json.loads((kokoro._DATA / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    units = mandarin_units("女儿的日子过得很好。图书馆每天早上开门，我们一起去吧？")
    assert {symbol for unit in units for symbol in unit.phonemes} <= set(vocab)


def test_latin_words_are_read_as_english():
    text = "我们去 Apple Store 吧"
    units = mandarin_units(text)
    english = [unit for unit in units if text[unit.start : unit.end] == "Apple"]
    assert english and "æ" in english[0].phonemes


def test_long_numbers_are_read_digit_by_digit_and_full_width_digits_count():
    text = "电话13800138000，身份证110101199003071234，价格３４元"
    units = {text[unit.start : unit.end]: unit.phonemes for unit in mandarin_units(text)}
    assert units["13800138000"] == ZHG2P.word2ipa("一三八零零一三八零零零")
    assert units["110101199003071234"].startswith(ZHG2P.word2ipa("一一零"))
    assert units["３４"] == ZHG2P.word2ipa("三十四")
