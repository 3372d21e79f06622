"""The ElevenLabs `output_format` values and what each one means.

A name reads `codec_samplerate[_bitrate]`: `mp3_44100_128` is 128 kbit/s MP3 at 44.1 kHz, `pcm_16000`
raw 16-bit PCM at 16 kHz. Only the names ElevenLabs documents are accepted as `output_format`, so a
client that works here works there too; a few more formats (AAC, FLAC) are made for the OpenAI-compatible
routes, named in the same way (`EXTRA_FORMATS`), and read back by name with `known_format`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

Codec = Literal["mp3", "opus", "pcm", "wav", "ulaw", "alaw", "aac", "flac"]

_MEDIA_TYPES: dict[Codec, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "pcm": "audio/pcm",
    "wav": "audio/wav",
    "ulaw": "audio/basic",
    "alaw": "audio/x-alaw-basic",
    "aac": "audio/aac",
    "flac": "audio/flac",
}

# `.opus` is the extension RFC 7845 recommends for Ogg Opus files.
_EXTENSIONS: dict[Codec, str] = {
    "mp3": "mp3",
    "opus": "opus",
    "pcm": "pcm",
    "wav": "wav",
    "ulaw": "ulaw",
    "alaw": "alaw",
    "aac": "aac",
    "flac": "flac",
}

_PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)

ALL_FORMATS: tuple[str, ...] = (
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    *(f"opus_48000_{kbps}" for kbps in (32, 64, 96, 128, 192)),
    *(f"pcm_{rate}" for rate in _PCM_RATES),
    *(f"wav_{rate}" for rate in _PCM_RATES),
    "ulaw_8000",
    "alaw_8000",
)

# A WAV header states the data length up front, which a stream cannot know.
STREAMING_FORMATS: tuple[str, ...] = tuple(name for name in ALL_FORMATS if not name.startswith("wav_"))

DEFAULT_FORMAT = "mp3_44100_128"

# Formats ElevenLabs does not offer, made for the OpenAI-compatible routes: AAC in ADTS frames (a stream
# needs no container header) and FLAC, at Kokoro's own rate.
EXTRA_FORMATS: tuple[str, ...] = ("aac_24000_64", "flac_24000")


@dataclass(frozen=True)
class OutputFormat:
    """One output format; `bitrate` is in bit/s and set only for the lossy codecs (mp3, opus, aac)."""

    name: str
    codec: Codec
    sample_rate: int
    bitrate: int | None

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self.codec]

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.codec]


class InvalidOutputFormat(ValueError):
    """An `output_format` this server does not offer (or not on this endpoint)."""

    def __init__(self, value: str, reason: str, valid: tuple[str, ...]) -> None:
        self.value = value
        self.valid = valid
        super().__init__(f"{reason} Valid values are: {', '.join(valid)}.")


def _from_name(name: str) -> OutputFormat:
    codec, rate, *kbps = name.split("_")
    return OutputFormat(
        name=name,
        codec=cast(Codec, codec),
        sample_rate=int(rate),
        bitrate=int(kbps[0]) * 1000 if kbps else None,
    )


_FORMATS: dict[str, OutputFormat] = {name: _from_name(name) for name in ALL_FORMATS}
_EXTRA: dict[str, OutputFormat] = {name: _from_name(name) for name in EXTRA_FORMATS}


def parse_output_format(name: str, *, streaming: bool = False) -> OutputFormat:
    """Look up an `output_format` name; `streaming=True` for endpoints that send audio as it is made."""
    fmt = _FORMATS.get(name)
    if fmt is None:
        raise InvalidOutputFormat(
            name, f"Unknown output_format {name!r}.", STREAMING_FORMATS if streaming else ALL_FORMATS
        )
    if streaming and name not in STREAMING_FORMATS:
        raise InvalidOutputFormat(
            name,
            f"output_format {name!r} is a WAV file, which is only available on non-streaming endpoints.",
            STREAMING_FORMATS,
        )
    return fmt


def known_format(name: str) -> OutputFormat:
    """Any format this server makes, by name: an `output_format` or one of `EXTRA_FORMATS` (for reading
    back audio made earlier, such as history items)."""
    fmt = _FORMATS.get(name) or _EXTRA.get(name)
    if fmt is None:
        raise InvalidOutputFormat(name, f"Unknown audio format {name!r}.", ALL_FORMATS + EXTRA_FORMATS)
    return fmt
