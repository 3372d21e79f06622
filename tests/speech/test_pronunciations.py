"""Written pronunciations to the IPA the engines speak: CMU arpabet, and IPA as people write it."""

from __future__ import annotations

import pytest

from intone.speech.text.arpabet import arpabet_to_ipa
from intone.speech.text.ipa import for_language, to_ipa


@pytest.mark.parametrize(
    ("arpabet", "ipa"),
    [
        # CMUdict entries beside the IPA espeak-ng writes for the same words (en-us).
        ("T AH0 M EY1 T OW2", "təmˈeɪtˌoʊ"),
        ("F AA1 DH ER0", "fˈɑːðɚ"),
        ("B ER1 D", "bˈɜːd"),
        ("HH AH0 L OW1", "həlˈoʊ"),
        ("JH AH1 JH", "dʒˈʌdʒ"),
        ("CH ER1 CH", "tʃˈɜːtʃ"),
        ("P L EH1 ZH ER0", "plˈɛʒɚ"),
        ("S IH1 NG", "sˈɪŋ"),
        ("Y EH1 S", "jˈɛs"),
        ("TH AO1 T", "θˈɔːt"),
        ("B OY1", "bˈɔɪ"),
        ("HH AW1 S", "hˈaʊs"),
        ("m ay1", "mˈaɪ"),  # case does not matter
        ("G UH1 D", "ɡˈʊd"),  # the IPA letter "ɡ", which both engines know, not ASCII "g"
        ("F UW1 D", "fˈuːd"),
        ("AH", "ʌ"),  # no digit: as stressless as 0 but the full vowel
    ],
)
def test_arpabet_to_ipa(arpabet, ipa):
    assert arpabet_to_ipa(arpabet) == ipa


@pytest.mark.parametrize("bad", ["", "   ", "QQ", "T1", "AH3", "AH-1", "K.AE1"])
def test_arpabet_refuses_what_it_cannot_read(bad):
    with pytest.raises(ValueError):
        arpabet_to_ipa(bad)


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("təmˈɑːtoʊ", "təmˈɑːtoʊ"),
        ("təˈmɑːtoʊ", "təmˈɑːtoʊ"),  # stress before the vowel, as espeak-ng writes it
        ("ˌɪntəˈnæʃənəl", "ˌɪntənˈæʃənəl"),
        ("nuː ˈjɔːk", "nuː jˈɔːk"),
        ("/ɡʊd/", "ɡʊd"),  # slashes around a transcription
        ("[gʊd]", "ɡʊd"),  # ASCII g, which neither engine knows
        ("ˈʧɜːʧ", "tʃˈɜːtʃ"),  # ligatures, which Piper lacks
        ("ˈt͡ʃɜːt͡ʃ", "tʃˈɜːtʃ"),  # tie bars
        ("to.ˈmɑ:.to", "tomˈɑːto"),  # syllable dots (a sentence end to Kokoro), ASCII length mark
        ("'hɛloʊ", "hˈɛloʊ"),  # ASCII stress
        ("bɝd", "bɜːd"),
        ("nuː  jɔːk", "nuː jɔːk"),  # words stay apart
        ("ɑ̃", "ɑ̃"),  # the nasal mark both engines know
    ],
)
def test_ipa_is_written_as_espeak_ng_writes_it(written, spoken):
    assert to_ipa(written, "ipa") == spoken


def test_english_r_is_the_approximant():
    assert for_language("rɛd", "en") == "ɹɛd"
    assert for_language("rojo", "es") == "rojo"
