"""Text control through the synthesizer with real engines, judged by ear (whisper) and by measuring the
audio: phoneme tags and pronunciation rules change what is heard, breaks are silences of their length.

A nonsense word ("zorblax") given the pronunciation of a real one must be heard as the real word; the
same text without the pronunciation is the control, heard otherwise, so the tests can fail."""

from __future__ import annotations

import numpy as np
import pytest

from intone.speech.lexicon import AliasRule, Lexicon, PhonemeRule
from intone.speech.synthesizer import SpeechRequest, Synthesizer
from tests.utils.silence import longest_digital_silence, longest_quiet
from tests.utils.whisper import plain, transcribe

pytestmark = pytest.mark.slow

PIPER = {"model_id": "eleven_flash_v2", "voice_id": "Brian", "language": "en"}
KOKORO = {"model_id": "eleven_multilingual_v2", "language": "en"}
SENTENCE = "Please buy some {} for the party."
IPA = "bəˈnænəz"
ARPABET = "B AH0 N AE1 N AH0 Z"


@pytest.fixture(scope="module")
def synth(engines):
    return Synthesizer(engines)


def _heard(synth: Synthesizer, text: str, engine: str, lexicon: Lexicon = (), **request) -> str:
    plan = synth.plan(SpeechRequest(text=text, lexicon=lexicon, seed=7, **request))
    assert plan.engine == engine
    chunks = list(synth.stream(plan))
    return plain(transcribe(np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate))


def test_the_control_is_not_heard_as_the_word(synth):
    assert "banana" not in _heard(synth, SENTENCE.format("zorblax"), "piper", **PIPER)


@pytest.mark.parametrize(
    "tag",
    [
        f'<phoneme alphabet="ipa" ph="{IPA}">zorblax</phoneme>',
        f'<phoneme alphabet="cmu-arpabet" ph="{ARPABET}">zorblax</phoneme>',
    ],
)
def test_a_phoneme_tag_is_heard_as_its_pronunciation_on_piper(synth, tag):
    heard = _heard(synth, SENTENCE.format(tag), "piper", **PIPER)
    assert "bananas" in heard and "phoneme" not in heard and "zorblax" not in heard


def test_a_phoneme_tag_is_heard_as_its_pronunciation_on_kokoro(synth):
    tag = f'<phoneme alphabet="ipa" ph="{IPA}">zorblax</phoneme>'
    heard = _heard(synth, SENTENCE.format(tag), "kokoro", **KOKORO)
    assert "bananas" in heard and "phoneme" not in heard


@pytest.mark.parametrize(
    "rule",
    [
        AliasRule("zorblax", "bananas"),
        PhonemeRule("zorblax", IPA, "ipa"),
        PhonemeRule("Zorblax", ARPABET, "cmu-arpabet", case_sensitive=False),
    ],
)
def test_a_pronunciation_rule_is_heard(synth, rule):
    heard = _heard(synth, SENTENCE.format("zorblax"), "piper", lexicon=(rule,), **PIPER)
    assert "bananas" in heard


BREAKS = {
    "piper": ("One two three. {} Four five.", PIPER),
    "espeak": ("Raz dwa trzy. {} Cztery pięć.", {"model_id": "eleven_flash_v2_5", "language": "pl"}),
}


@pytest.mark.parametrize("seconds", [0.5, 1.5])
@pytest.mark.parametrize("engine", sorted(BREAKS))
def test_a_break_is_a_silence_of_its_length(synth, seconds, engine):
    sentence, fields = BREAKS[engine]
    tag = f'<break time="{seconds}s" />'
    text = sentence.format(tag)
    plan = synth.plan(SpeechRequest(text=text, seed=7, **fields))
    assert plan.engine == engine
    chunks = list(synth.stream(plan))
    audio, rate = np.concatenate([c.audio for c in chunks]), chunks[0].sample_rate
    start, length = longest_digital_silence(audio, rate)
    assert length == pytest.approx(seconds, abs=0.002)
    # The engine leaves its own quiet after and before the speech around the pause, never a second one.
    assert longest_quiet(audio, rate)[1] < seconds + 1.2
    characters = "".join(char for c in chunks for char in c.alignment.characters)
    starts = [time for c in chunks for time in c.alignment.starts]
    ends = [time for c in chunks for time in c.alignment.ends]
    assert characters == text
    first, last = text.index(tag), text.index(tag) + len(tag) - 1
    assert ends[last] - starts[first] == pytest.approx(seconds, abs=0.002)
    assert start - 0.01 <= starts[first] and ends[last] <= start + length + 0.01
