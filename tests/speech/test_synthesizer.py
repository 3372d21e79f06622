"""The synthesizer's decisions and bookkeeping, with a small fake engine (real engines: tests/e2e)."""

import itertools
import random
import string

import numpy as np
import pytest

from intone.api.errors import speech_error_status
from intone.engines.base import (
    EngineRequest,
    EngineResult,
    Prepared,
    Unit,
    spans_from_durations,
    synthesize_whole,
    unit_char_times,
)
from intone.engines.voice_packs import VoicePackError
from intone.speech import errors
from intone.speech.synthesizer import SpeechRequest, Synthesizer, split_units
from intone.speech.text.chunking import ChunkPlan, engine_plan
from intone.speech.windows import WindowPlan

RATE = 1000


class FakeEngine:
    """Speaks each phoneme as one 10 ms frame whose samples count the frames, so timings are known
    exactly and every window's audio says which frames it holds."""

    name = "kokoro"
    sample_rate = RATE
    frame_samples = RATE // 100
    needs_phonemes = True
    max_phonemes = 40

    def __init__(self):
        self.calls: list[EngineRequest] = []
        self.windows: list[tuple[int, int]] = []

    def prepare(self, request: EngineRequest) -> Prepared:
        self.calls.append(request)
        durations = np.array([0.01 * len(u.phonemes) for u in request.units])
        spans = spans_from_durations(durations)
        frames = sum(len(u.phonemes) for u in request.units)
        return Prepared(
            RATE, self.frame_samples, frames, unit_char_times(len(request.text), request.units, spans)
        )

    def decode(self, prepared: Prepared, start: int, stop: int) -> np.ndarray:
        self.windows.append((start, stop))
        return np.repeat(np.arange(start, stop, dtype=np.float32), self.frame_samples)

    def calibrated(self, voice) -> bool:
        return True

    def calibrate(self, voice) -> None:
        return None

    def synthesize(self, request: EngineRequest) -> EngineResult:
        return synthesize_whole(self, request)


class FakeEngines:
    def __init__(self):
        self.engine = FakeEngine()

    def get(self, name):
        return self.engine

    def loaded(self, name):
        return True

    @staticmethod
    def languages():
        return {
            "kokoro": frozenset({"en", "es"}),
            "piper": frozenset({"en"}),
            "espeak": frozenset({"en", "pl"}),
        }

    @staticmethod
    def needs_phonemes(name):
        return name != "espeak"


@pytest.fixture
def synth():
    return Synthesizer(FakeEngines())


def _check_alignment(alignment, text, duration):
    assert "".join(alignment.characters) == text
    starts, ends = np.array(alignment.starts), np.array(alignment.ends)
    assert (np.diff(starts) >= 0).all()
    assert (ends >= starts).all()
    assert starts.min() >= 0 and ends.max() <= duration + 1e-9


def test_plan_rejects_bad_requests(synth):
    with pytest.raises(errors.TextEmpty):
        synth.plan(SpeechRequest(text="   "))
    with pytest.raises(errors.VoiceNotFound):
        synth.plan(SpeechRequest(text="hi", voice_id="nobody"))
    with pytest.raises(errors.ModelNotFound):
        synth.plan(SpeechRequest(text="hi", model_id="eleven_nothing"))
    with pytest.raises(errors.ModelCannotSpeak):
        synth.plan(SpeechRequest(text="hi", model_id="scribe_v2"))
    with pytest.raises(errors.TextTooLong):
        synth.plan(SpeechRequest(text="a" * 5001, model_id="eleven_v3"))
    with pytest.raises(errors.UnsupportedLanguage, match="Languages it speaks"):
        synth.plan(SpeechRequest(text="hi", language="ja"))
    with pytest.raises(errors.InvalidVoiceSettings):
        synth.plan(SpeechRequest(text="hi", speed=2.0))


def test_plan_normalizes_for_neural_engines_only(synth):
    assert "dollars" in synth.plan(SpeechRequest(text="It costs $3.")).normalized.text
    assert (
        synth.plan(SpeechRequest(text="It costs $3.", normalization="off")).normalized.text == "It costs $3."
    )
    espeak = synth.plan(SpeechRequest(text="It costs $3.", language="pl"))
    assert espeak.engine == "espeak" and espeak.normalized.text == "It costs $3."


def test_stream_alignments_cover_the_text_across_chunks(synth):
    text = "It cost $3.50 on March 3rd, 2024. " + "Then we walked home slowly and talked. " * 6
    plan = synth.plan(SpeechRequest(text=text, chunking=ChunkPlan(target=60, maximum=80)))
    chunks = list(synth.stream(plan))
    assert len(chunks) > 3
    total = sum(len(c.audio) for c in chunks) / RATE
    original = chunks[0].alignment
    normalized = chunks[0].normalized_alignment
    for chunk in chunks[1:]:
        assert np.isclose(chunk.offset, original.ends[-1], atol=0.011) or chunk.offset >= original.ends[-1]
        original = original.joined(chunk.alignment)
        normalized = normalized.joined(chunk.normalized_alignment)
    _check_alignment(original, text, total)
    _check_alignment(normalized, plan.normalized.text, total)


def test_piper_speaks_one_sentence_per_chunk_where_kokoro_merges_them(synth):
    text = "We left early. The road was empty. It rained a little. " * 2
    kokoro = synth.plan(SpeechRequest(text=text, model_id="eleven_multilingual_v2"))
    piper = synth.plan(SpeechRequest(text=text, voice_id="Brian", model_id="eleven_flash_v2_5"))
    assert (kokoro.engine, piper.engine) == ("kokoro", "piper")
    sentences = [piper.normalized.text[a:b].strip() for a, b in piper.spans]
    assert sentences == ["We left early.", "The road was empty.", "It rained a little."] * 2
    assert len(kokoro.spans) == 2  # the first sentence, then the rest within 220 characters
    explicit = SpeechRequest(text=text, voice_id="Brian", model_id="eleven_flash_v2_5", chunking=ChunkPlan())
    assert synth.plan(explicit).spans == kokoro.spans  # a request's own plan wins


def test_groups_split_to_fit_the_engine(synth):
    plan = synth.plan(SpeechRequest(text="word " * 60, chunking=ChunkPlan(maximum=300, target=300)))
    list(synth.stream(plan))
    assert all(
        sum(len(u.phonemes) for u in call.units) <= FakeEngine.max_phonemes
        for call in synth.engines.engine.calls
    )


def test_seed_is_passed_per_chunk(synth):
    plan = synth.plan(SpeechRequest(text="One, two three four. Five six seven eight.", seed=5))
    list(synth.stream(plan))
    assert [c.seed for c in synth.engines.engine.calls] == [5, 6]


def test_split_units_cuts_an_overlong_unit_proportionally():
    groups = split_units((Unit("a" * 100, 0, 10),), 40)
    pieces = [u for g in groups for u in g]
    assert "".join(u.phonemes for u in pieces) == "a" * 100
    assert pieces[0].start == 0 and pieces[-1].end == 10
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))


def test_an_expansion_crossing_a_chunk_edge_keeps_every_character_once(synth):
    # "00:&" reads "zero zero: and"; the space before "and" comes from "&", which starts the next chunk.
    plan = synth.plan(SpeechRequest(text="00:&", chunking=ChunkPlan(first_max=11, first_min=4)))
    assert len(plan.spans) == 2
    chunks = list(synth.stream(plan))
    total = sum(len(c.audio) for c in chunks) / RATE
    original = chunks[0].alignment.joined(chunks[1].alignment)
    _check_alignment(original, "00:&", total)


def test_the_language_is_detected_when_not_given(synth):
    spanish = synth.plan(SpeechRequest(text="Hola, ¿cómo estás? Hoy hace muy buen tiempo."))
    assert (spanish.language, spanish.language_source) == ("es", "detected")
    english = synth.plan(SpeechRequest(text="The juice of lemons makes fine punch."))
    assert (english.language, english.language_source) == ("en", "detected")
    given = synth.plan(SpeechRequest(text="Hola, ¿cómo estás?", language="en"))
    assert (given.language, given.language_source) == ("en", "requested")


def test_an_undetectable_language_falls_back_to_english(synth, caplog):
    with caplog.at_level("DEBUG", logger="intone.speech"):
        plan = synth.plan(SpeechRequest(text="Ready."))
    assert (plan.language, plan.language_source) == ("en", "fallback")
    assert "speaking English" in caplog.text


def test_context_makes_a_short_text_detectable(synth):
    alone = synth.plan(SpeechRequest(text="Vale."))
    with_context = synth.plan(
        SpeechRequest(text="Gracias.", previous_text="Hoy vamos al mercado con mi hermana pequeña.")
    )
    assert alone.language_source == "fallback"
    assert (with_context.language, with_context.language_source) == ("es", "detected")


def test_the_fast_model_keeps_each_voice_who_it_is(synth):
    def engine(voice: str) -> str:
        return synth.plan(
            SpeechRequest(text="Hello there.", voice_id=voice, model_id="eleven_flash_v2_5")
        ).engine

    assert engine("Brian") == "piper"  # an American man: Piper's own speaker
    assert engine("Rachel") == "kokoro"
    assert engine("George") == "kokoro"  # British
    assert engine("am_onyx") == "piper"


def test_the_engine_gets_the_voice_in_the_request_language(synth):
    list(synth.stream(synth.plan(SpeechRequest(text="Hola amigos.", voice_id="George", language="es"))))
    list(synth.stream(synth.plan(SpeechRequest(text="Hello friends.", voice_id="George", language="en"))))
    spanish, english = synth.engines.engine.calls
    assert spanish.voice.packs == (("em_alex", 1.0),) and spanish.locale is None
    assert dict(english.voice.packs) == {"bm_george": 0.7, "bm_lewis": 0.3}
    assert english.locale == "en-GB"


def test_an_english_only_model_does_not_claim_to_detect(synth):
    plan = synth.plan(
        SpeechRequest(text="Hola, ¿cómo estás? Hoy hace muy buen tiempo.", model_id="eleven_flash_v2")
    )
    assert (plan.language, plan.language_source) == ("en", "fallback")


def test_voice_packs_that_cannot_load_are_the_servers_fault_said_plainly():
    class Broken(FakeEngines):
        def get(self, name):
            raise VoicePackError("54 of the 54 Kokoro voice packs are missing; install them")

    synth = Synthesizer(Broken())
    plan = synth.plan(SpeechRequest(text="Hello there."))
    with pytest.raises(errors.EngineUnavailable, match="voice packs are missing") as raised:
        list(synth.stream(plan))
    assert speech_error_status(raised.value) == 503


# --- Windows ------------------------------------------------------------------------------------------

LONG = "The birch canoe slid on the smooth planks. " * 3


def _windows(synth, text: str, windows: WindowPlan) -> list:
    synth.engines.engine.max_phonemes = 1000  # one part per chunk
    synth.engines.engine.windows.clear()
    return list(synth.stream(synth.plan(SpeechRequest(text=text, windows=windows))))


def test_a_stream_starts_with_a_small_window_and_grows_to_the_largest(synth):
    chunks = _windows(synth, LONG * 2, WindowPlan.for_latency(None))
    sizes = [len(chunk.audio) / RATE for chunk in chunks]
    assert 0.25 <= sizes[0] <= 0.75  # about the first window's 0.5 s, ending where a character ends
    assert max(sizes) <= WindowPlan().largest * 1.5
    assert sizes[1] > sizes[0]


def test_windows_are_contiguous_and_cover_every_frame_once(synth):
    chunks = _windows(synth, LONG * 2, WindowPlan.for_latency(4))
    assert len(chunks) > 3
    windows = synth.engines.engine.windows
    calls = len(synth.engines.engine.calls)
    # Within each prepared part, windows follow each other without gap or overlap, starting at 0.
    starts_at_zero = [start for start, _ in windows if start == 0]
    assert len(starts_at_zero) == calls
    for (_, stop), (start, _) in itertools.pairwise(windows):
        assert start in (0, stop)
    offsets = [chunk.offset for chunk in chunks]
    for chunk, following in itertools.pairwise(chunks):
        assert np.isclose(chunk.offset + len(chunk.audio) / RATE, following.offset)
    assert offsets[0] == 0.0


def test_each_window_carries_the_characters_that_start_and_end_in_it(synth):
    chunks = _windows(synth, LONG, WindowPlan.for_latency(4))
    text = "".join("".join(chunk.alignment.characters) for chunk in chunks)
    assert text == LONG
    for chunk in chunks:
        end = chunk.offset + len(chunk.audio) / RATE
        assert all(chunk.offset - 1e-9 <= s < end for s in chunk.alignment.starts)
        assert all(e <= end + 1e-9 for e in chunk.alignment.ends)


def test_timings_do_not_depend_on_the_windows(synth):
    def timings(windows: WindowPlan) -> tuple:
        chunks = _windows(synth, LONG, windows)
        starts = [s for chunk in chunks for s in chunk.alignment.starts]
        ends = [e for chunk in chunks for e in chunk.alignment.ends]
        audio = np.concatenate([chunk.audio for chunk in chunks])
        return starts, ends, audio

    streamed, whole = timings(WindowPlan.for_latency(2)), timings(WindowPlan.whole())
    assert np.allclose(streamed[0], whole[0]) and np.allclose(streamed[1], whole[1])
    assert np.array_equal(streamed[2], whole[2])


def test_whole_files_use_the_largest_windows_from_the_start(synth):
    _windows(synth, LONG * 3, WindowPlan.whole())
    windows = synth.engines.engine.windows
    assert windows[0][0] == 0 and windows[1][0] == 0  # the short first sentence in one window
    assert (windows[2][1] - windows[2][0]) / 100 >= WindowPlan().largest / 2


def test_a_chunk_with_nothing_to_decode_still_carries_its_timings(synth):
    chunks = _windows(synth, "Hello! # #", WindowPlan.for_latency(None))
    assert len(chunks[-1].audio) == 0  # "# #" is a chunk of its own with no sound
    assert "".join("".join(chunk.alignment.characters) for chunk in chunks) == "Hello! # #"


def test_calibration_is_offered_only_for_a_loaded_engine_that_needs_it(synth):
    plan = synth.plan(SpeechRequest(text="Hello there.", voice_id="George", language="en"))
    assert synth.calibration(plan) is None  # the fake engine needs none
    done: list[object] = []
    engine = synth.engines.engine
    engine.calibrated = lambda voice: bool(done)
    engine.calibrate = done.append
    work = synth.calibration(plan)
    assert work is not None
    work()
    assert dict(done[0].packs) == {"bm_george": 0.7, "bm_lewis": 0.3}
    assert synth.calibration(plan) is None
    synth.engines.loaded = lambda name: False
    engine.calibrated = lambda voice: False
    assert synth.calibration(plan) is None  # nothing to calibrate before the engine is loaded


def test_a_long_word_is_planned_and_read_in_bounded_pieces(synth):
    # 10,000 letters without a space: each chunk, and so each engine call, holds at most a bounded
    # piece; espeak reads every piece whole (of a word of hundreds of letters it read about half), and
    # the timings still cover every character.
    word = "".join(random.Random(5).choices(string.ascii_lowercase, k=10_000))
    plan = synth.plan(SpeechRequest(text=word, language="en"))
    chunking = engine_plan(plan.engine)
    limit = chunking.run_maximum
    assert max(end - start for start, end in plan.spans) <= limit
    assert len(plan.spans) <= 2 * len(word) // limit + len(word) // chunking.maximum + 2
    chunks = list(synth.stream(plan))
    calls = synth.engines.engine.calls
    assert max(len(call.text) for call in calls) <= limit
    assert sum(len(unit.phonemes) for call in calls for unit in call.units) >= len(word)
    original = chunks[0].alignment
    for chunk in chunks[1:]:
        original = original.joined(chunk.alignment)
    _check_alignment(original, word, sum(len(c.audio) for c in chunks) / RATE)
