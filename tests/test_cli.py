"""`intone say` end to end with real engines and every output format."""

import json
import wave

import av
import pytest

from intone.audio.formats import ALL_FORMATS
from intone.cli import _per_worker_defaults, _unsafe_bind, main
from intone.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("INTONE_DATA_DIR", str(tmp_path_factory.getbasetemp() / "cli-data"))


def _decoded_seconds(path, fmt):
    codec, rate = fmt.split("_")[:2]
    data = path.read_bytes()
    if codec == "pcm":
        return len(data) / 2 / int(rate)
    if codec in ("ulaw", "alaw"):
        return len(data) / int(rate)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert stream.rate == int(rate) and stream.channels == 1
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_say_writes_every_format(tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    code = main(
        ["say", "Testing every format.", "-o", str(out), "--model", "eleven_flash_v2", "--format", fmt]
    )
    assert code == 0
    assert 0.8 < _decoded_seconds(out, fmt) < 4.0


def test_say_to_stdout(capsysbinary):
    assert main(["say", "Hello.", "-o", "-", "--format", "pcm_16000", "--model", "eleven_flash_v2"]) == 0
    assert len(capsysbinary.readouterr().out) > 16000  # more than half a second of 16-bit audio


def test_say_with_timings_and_exact_wav(tmp_path):
    out, timings = tmp_path / "a.wav", tmp_path / "a.json"
    text = "It cost $3.50 today."
    args = ["say", text, "-o", str(out), "--voice", "Brian", "--model", "eleven_flash_v2_5"]
    assert main([*args, "--speed", "1.1", "--seed", "7", "--timings", str(timings)]) == 0
    with wave.open(str(out)) as w:
        duration = w.getnframes() / w.getframerate()
        assert w.getframerate() == 44100
    data = json.loads(timings.read_text())
    assert "".join(data["alignment"]["characters"]) == text
    assert "dollars" in "".join(data["normalized_alignment"]["characters"])
    assert data["alignment"]["character_end_times_seconds"][-1] <= duration + 0.01
    again = tmp_path / "b.wav"
    assert main([*args, "--speed", "1.1", "--seed", "7", "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--voice", "Nobody"], "voice_id 'Nobody' was not found"),
        (["--model", "eleven_nope"], "does not exist"),
        (["--format", "mp3_1_2"], "Valid"),
        (["--language", "ja"], "cannot speak language 'ja'"),
    ],
)
def test_say_errors_are_clear(tmp_path, capsys, args, message):
    assert main(["say", "Hello", "-o", str(tmp_path / "x.mp3"), *args]) == 2
    assert message.lower() in capsys.readouterr().err.lower()


def test_say_refuses_empty_and_overlong_text(tmp_path, capsys):
    assert main(["say", "  ", "-o", str(tmp_path / "x.mp3")]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["say", "a" * 5001, "-o", str(tmp_path / "x.mp3"), "--model", "eleven_v3"]) == 2
    assert "at most 5000 characters" in capsys.readouterr().err


def test_serve_refuses_a_public_address_without_keys_or_with_auth_off(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INTONE_DATA_DIR", str(tmp_path))
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    error = capsys.readouterr().err
    assert "0.0.0.0" in error and "intone keys create" in error
    monkeypatch.setenv("INTONE_AUTH", "off")
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_serve_refuses_a_public_address_whose_keys_are_all_disabled(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INTONE_DATA_DIR", str(tmp_path))
    assert main(["keys", "create", "--name", "only"]) == 0
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    assert main(["keys", "disable", capsys.readouterr().out.split()[0]]) == 0
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "no enabled API key" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_auth_off_is_allowed_on_loopback(host):
    assert _unsafe_bind(Settings(auth="off"), host) is None


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "::ffff:127.0.0.1", "192.0.2.1", "no-such-host.invalid", ""]
)
def test_auth_off_is_refused_anywhere_else(host):
    assert "loopback" in (_unsafe_bind(Settings(auth="off"), host) or "")


def test_workers_share_the_machines_engine_limits_unless_set(monkeypatch):
    monkeypatch.delenv("INTONE_MAX_CONCURRENT_REQUESTS", raising=False)
    monkeypatch.setenv("INTONE_ENGINE_WORKERS", "3")
    settings = Settings(_env_file=None)
    shared = _per_worker_defaults(settings, 2)
    assert shared == {}  # the engine workers were set; the load limit is a share, and no count cap is set
    monkeypatch.delenv("INTONE_ENGINE_WORKERS")
    monkeypatch.setenv("INTONE_MAX_CONCURRENT_REQUESTS", "6")
    settings = Settings(_env_file=None)
    assert _per_worker_defaults(settings, 2) == {
        "INTONE_ENGINE_WORKERS": str(max(1, settings.engine_workers // 2))
    }


def test_an_unreachable_database_is_a_sentence_not_a_traceback(capsys, monkeypatch):
    monkeypatch.setenv("INTONE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert main(["keys", "list"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("intone: ") and "Traceback" not in error


def test_keys_are_shown_once_and_listed_without_their_secret(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INTONE_DATA_DIR", str(tmp_path))
    assert main(["keys", "create", "--name", "ci", "--scopes", "text_to_speech,models_read"]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("sk_") and len(secret) == 51
    assert main(["keys", "create", "--name", "quota", "--character-limit", "100", "--tier", "free"]) == 0
    capsys.readouterr()
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert secret not in listing and secret[-4:] in listing
    assert "0/100 credits" in listing and "free" in listing and "models_read, text_to_speech" in listing
    key_id = listing.split()[0]
    assert main(["keys", "disable", key_id]) == 0
    assert main(["keys", "list"]) == 0
    assert "disabled" in capsys.readouterr().out.splitlines()[0]
    assert main(["keys", "enable", key_id]) == 0
    assert main(["keys", "delete", key_id]) == 0
    assert main(["keys", "delete", key_id]) == 1
    assert "no key" in capsys.readouterr().err
    for action in ("disable", "enable"):
        assert main(["keys", action, key_id]) == 1
        assert "no key" in capsys.readouterr().err


def test_keys_create_refuses_unknown_scopes_and_tiers(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("INTONE_DATA_DIR", str(tmp_path))
    assert main(["keys", "create", "--name", "x", "--scopes", "speak_loudly"]) == 2
    assert "unknown scope(s) speak_loudly" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["keys", "create", "--name", "x", "--tier", "platinum"])
