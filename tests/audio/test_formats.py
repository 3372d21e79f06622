"""The output_format table: names, fields, media types, and the errors for names we do not offer."""

from __future__ import annotations

import pytest

from intone.audio.formats import (
    ALL_FORMATS,
    DEFAULT_FORMAT,
    STREAMING_FORMATS,
    InvalidOutputFormat,
    OutputFormat,
    parse_output_format,
)

# Written out by hand from the ElevenLabs spec, so a typo in the table is caught.
EXPECTED = {
    "mp3_22050_32": ("mp3", 22050, 32000),
    "mp3_24000_48": ("mp3", 24000, 48000),
    "mp3_44100_32": ("mp3", 44100, 32000),
    "mp3_44100_64": ("mp3", 44100, 64000),
    "mp3_44100_96": ("mp3", 44100, 96000),
    "mp3_44100_128": ("mp3", 44100, 128000),
    "mp3_44100_192": ("mp3", 44100, 192000),
    "opus_48000_32": ("opus", 48000, 32000),
    "opus_48000_64": ("opus", 48000, 64000),
    "opus_48000_96": ("opus", 48000, 96000),
    "opus_48000_128": ("opus", 48000, 128000),
    "opus_48000_192": ("opus", 48000, 192000),
    **{f"pcm_{r}": ("pcm", r, None) for r in (8000, 16000, 22050, 24000, 32000, 44100, 48000)},
    **{f"wav_{r}": ("wav", r, None) for r in (8000, 16000, 22050, 24000, 32000, 44100, 48000)},
    "ulaw_8000": ("ulaw", 8000, None),
    "alaw_8000": ("alaw", 8000, None),
}

MEDIA_TYPES = {
    "mp3": ("audio/mpeg", "mp3"),
    "opus": ("audio/ogg", "opus"),
    "pcm": ("audio/pcm", "pcm"),
    "wav": ("audio/wav", "wav"),
    "ulaw": ("audio/basic", "ulaw"),
    "alaw": ("audio/x-alaw-basic", "alaw"),
}


def test_the_table_lists_exactly_the_spec_formats_once() -> None:
    assert sorted(ALL_FORMATS) == sorted(EXPECTED)
    assert len(set(ALL_FORMATS)) == len(ALL_FORMATS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_format_parses_into_its_fields(name: str) -> None:
    codec, rate, bitrate = EXPECTED[name]
    fmt = parse_output_format(name)
    assert fmt == OutputFormat(name=name, codec=codec, sample_rate=rate, bitrate=bitrate)
    assert (fmt.media_type, fmt.extension) == MEDIA_TYPES[codec]


def test_streaming_formats_are_all_but_wav() -> None:
    assert set(STREAMING_FORMATS) == {n for n in ALL_FORMATS if not n.startswith("wav_")}
    assert list(STREAMING_FORMATS) == [n for n in ALL_FORMATS if n in STREAMING_FORMATS]  # same order


def test_default_is_128k_mp3() -> None:
    assert DEFAULT_FORMAT == "mp3_44100_128"
    assert DEFAULT_FORMAT in STREAMING_FORMATS


@pytest.mark.parametrize("name", STREAMING_FORMATS)
def test_streaming_endpoints_accept_every_streaming_format(name: str) -> None:
    assert parse_output_format(name, streaming=True).name == name


def test_formats_are_immutable() -> None:
    fmt = parse_output_format("pcm_16000")
    with pytest.raises(AttributeError):
        fmt.sample_rate = 8000  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "mp3",
        "mp3_44100",
        "mp3_44100_320",
        "MP3_44100_128",
        " mp3_44100_128",
        "mp3_44100_128 ",
        "pcm_11025",
        "pcm_16000_16",
        "flac_44100",
        "opus_24000_32",
        "ulaw_16000",
        "wav",
    ],
)
def test_unknown_names_are_rejected_with_the_valid_list(bad: str) -> None:
    with pytest.raises(InvalidOutputFormat) as info:
        parse_output_format(bad)
    message = str(info.value)
    assert repr(bad) in message
    for name in ALL_FORMATS:
        assert name in message
    assert info.value.value == bad
    assert info.value.valid == ALL_FORMATS
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name", [n for n in ALL_FORMATS if n.startswith("wav_")])
def test_wav_is_refused_on_streaming_endpoints(name: str) -> None:
    assert parse_output_format(name).codec == "wav"
    with pytest.raises(InvalidOutputFormat) as info:
        parse_output_format(name, streaming=True)
    message = str(info.value)
    assert name in message
    assert "only available on non-streaming endpoints" in message
    assert info.value.valid == STREAMING_FORMATS
    for valid in STREAMING_FORMATS:
        assert valid in message


def test_unknown_name_on_a_streaming_endpoint_lists_the_streaming_formats() -> None:
    with pytest.raises(InvalidOutputFormat) as info:
        parse_output_format("mp3_48000_320", streaming=True)
    assert info.value.valid == STREAMING_FORMATS
    assert "wav_" not in str(info.value)
