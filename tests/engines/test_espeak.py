import subprocess
import sys

import numpy as np
import pytest

from intone.engines import espeak_ng
from intone.engines.base import EngineRequest, VoiceRealization
from intone.engines.espeak import EspeakEngine

TEXT = "The birch canoe slid on the smooth planks."


@pytest.fixture(scope="module")
def engine():
    return EspeakEngine()


def _say(engine, text=TEXT, **kwargs):
    voice = kwargs.pop("voice", VoiceRealization(variant="m3", pitch=40))
    return engine.synthesize(
        EngineRequest(text=text, language=kwargs.pop("language", "en"), voice=voice, **kwargs)
    )


def test_languages_are_real_espeak_voices(engine):
    assert {"en", "de", "fr", "pl", "ru", "zh", "pt"} <= engine.languages
    assert "ja" not in engine.languages
    for code in engine.languages:
        assert espeak_ng.voice_for(code) in espeak_ng.voice_names()


def test_word_timings_come_from_espeak_events(engine):
    result = _say(engine)
    assert result.sample_rate == 22050
    duration = len(result.audio) / result.sample_rate
    times = result.char_times
    birch, canoe = TEXT.index("birch"), TEXT.index("canoe")
    assert 0 < times[birch, 0] < times[canoe, 0] < duration
    placed = times[~np.isnan(times).any(axis=1)]
    assert (np.diff(placed[:, 0]) >= 0).all()
    assert placed.max() <= duration


def test_speed_variant_and_pitch_change_the_audio(engine):
    base = _say(engine)
    fast = _say(engine, speed=1.2)
    assert len(fast.audio) < 0.9 * len(base.audio)
    other = _say(engine, voice=VoiceRealization(variant="f2", pitch=70))
    assert not np.array_equal(other.audio[: len(base.audio)], base.audio[: len(other.audio)])


def test_repeatable_and_other_languages(engine):
    # espeak's formant generator keeps its pitch-flutter phase across calls, so repeats differ by a
    # few samples (documented); the speech itself must not change.
    first, second = _say(engine).audio, _say(engine).audio
    assert abs(len(first) - len(second)) <= 22  # 1 ms
    polish = _say(engine, text="Dzień dobry, jak się masz?", language="pl")
    assert len(polish.audio) > 0.5 * polish.sample_rate


def test_unsupported_language_is_refused(engine):
    with pytest.raises(ValueError, match="does not speak"):
        _say(engine, language="ja")


# Eight threads make their first espeak-ng call at the same moment, as two first requests to a server
# that did not warm up do. Run in a fresh process: this one's library is made already.
_FIRST_CALLS = """
import threading
from intone.engines import espeak_ng

start, found, failures = threading.Barrier(8), [], []

def first_call():
    start.wait()
    try:
        found.append(id(espeak_ng.library()))
        espeak_ng.library().phonemize("en-us", "The birch canoe slid on the smooth planks.")
    except Exception as error:
        failures.append(repr(error))

threads = [threading.Thread(target=first_call) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(set(found)), failures)
"""


def test_first_calls_from_several_threads_share_one_library():
    done = subprocess.run([sys.executable, "-c", _FIRST_CALLS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 []"


# espeak-ng spells letters each followed by a dot as one abbreviation and overflows a buffer on the
# stack when there are about 60 of them (4-byte letters; more of shorter ones): the process aborts.
# Every chunk the planner makes of such a run must be safe. Run in a fresh process, as a crash would
# take this one down.
_DOTTED_CHUNKS = """
from intone.engines.base import EngineRequest, VoiceRealization
from intone.engines.espeak import EspeakEngine
from intone.speech.text.chunking import chunk_spans

engine, text = EspeakEngine(), "\\U0001d49c." * 1_000
seconds = 0.0
for start, end in chunk_spans(text):
    request = EngineRequest(text=text[start:end], language="pl", voice=VoiceRealization())
    seconds += len(engine.synthesize(request).audio) / engine.sample_rate
print(seconds > 0)
"""


def test_every_chunk_of_a_long_dotted_run_is_safe_for_espeak():
    done = subprocess.run([sys.executable, "-c", _DOTTED_CHUNKS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
