from intone.transcription.languages import iso639_3, whisper_code


def test_request_codes_become_whisper_codes():
    assert whisper_code("en") == whisper_code("eng") == whisper_code("ENG") == "en"
    assert whisper_code("ger") == whisper_code("deu") == "de"  # ISO 639-2/B as well as 639-3
    assert whisper_code("yue") == "yue"  # no 639-1 code: Whisper uses the 639-3 one
    assert whisper_code("jv") == "jw"  # Whisper's own code for Javanese
    assert whisper_code("xx") is None
    assert whisper_code("english") is None


def test_whisper_codes_are_answered_in_iso_639_3():
    assert [iso639_3(code) for code in ("en", "es", "zh", "jw", "haw")] == ["eng", "spa", "zho", "jav", "haw"]
