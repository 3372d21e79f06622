"""Unbroken runs of characters through a real server: a word of thousands of letters, and the dotted run
that made espeak-ng abort the whole server process. Each is read in pieces of bounded length, with
timings for every character (speech/text/chunking.py)."""

from __future__ import annotations

import base64
import random
import string

import pytest
from elevenlabs.client import ElevenLabs

from tests.api.server import Server
from tests.api.test_python_sdk import BRIAN, _seconds

pytestmark = pytest.mark.slow

FLASH = "eleven_flash_v2_5"
FORMAT = "mp3_22050_32"


@pytest.fixture(scope="module")
def client(server: Server) -> ElevenLabs:
    # Generous: the longest request here makes about 13 minutes of audio.
    return ElevenLabs(base_url=server.url, api_key=server.api_key, timeout=300)


def _spoken_whole(client: ElevenLabs, server: Server, text: str, **options: str) -> None:
    result = client.text_to_speech.convert_with_timestamps(
        BRIAN, text=text, model_id=FLASH, output_format=FORMAT, **options
    )
    assert server.process.poll() is None, "the server died"
    duration = _seconds(base64.b64decode(result.audio_base_64), FORMAT)
    alignment = result.alignment
    assert "".join(alignment.characters) == text
    starts, ends = alignment.character_start_times_seconds, alignment.character_end_times_seconds
    assert starts == sorted(starts)
    assert 1.0 < ends[-1] <= duration + 0.05


def test_a_word_of_a_thousand_letters_is_spoken_by_piper(client, server):
    word = "".join(random.Random(11).choices(string.ascii_lowercase, k=1_000))
    _spoken_whole(client, server, word)


def test_a_run_of_dotted_letters_no_longer_aborts_espeak(client, server):
    # Before, a chunk held 300 characters of this run and espeak-ng overflowed its stack on it.
    _spoken_whole(client, server, "\U0001d49c." * 500, language_code="pl")


def test_a_word_of_ten_thousand_letters_is_spoken_in_polish(client, server):
    # espeak-ng reads every letter: about 13 minutes of audio, sent as 8 kHz PCM to keep encoding cheap.
    word = "".join(random.Random(12).choices("abcdefghijklmnoprstuwyz", k=10_000))
    audio = b"".join(
        client.text_to_speech.convert(
            BRIAN, text=word, model_id=FLASH, language_code="pl", output_format="pcm_8000"
        )
    )
    assert server.process.poll() is None, "the server died"
    assert len(audio) / 2 / 8000 > 10 * 60
