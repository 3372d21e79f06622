"""`intone say` end to end with real engines and every output format."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import wave
from typing import Any

import av
import pytest
import uvicorn

from intone.audio.formats import ALL_FORMATS
from intone.cli import _per_worker_defaults, _unsafe_bind, main
from intone.config import Settings
from tests.api.server import ROOT, serving

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
    for text in ("  ", "🙂 \u200b"):
        assert main(["say", text, "-o", str(tmp_path / "x.mp3")]) == 2
        assert "nothing to speak" in capsys.readouterr().err
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


def test_keys_create_prints_nothing_on_stdout_unless_it_created_a_key(capsys, monkeypatch, tmp_path):
    # `export ELEVENLABS_API_KEY=$(intone keys create ...)` must never capture anything but a key.
    monkeypatch.setenv("INTONE_DATA_DIR", str(tmp_path))
    for limit in ("-1", str(2**63)):
        assert main(["keys", "create", "--name", "x", "--character-limit", limit]) != 0
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("intone: ") and "--character-limit" in err
    monkeypatch.setenv("INTONE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert main(["keys", "create", "--name", "x"]) != 0
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("intone: ")


def test_serve_with_auth_off_says_so_and_shows_intones_log(capsys, monkeypatch):
    monkeypatch.setenv("INTONE_AUTH", "off")
    # serve sets these for its workers; restored after the test
    monkeypatch.setenv("_INTONE_SERVE_URL", "")
    monkeypatch.setenv("_INTONE_LISTENER", "")
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: ran.update(kwargs))
    assert main(["serve", "--port", "1"]) == 0
    err = capsys.readouterr().err
    assert "INTONE_AUTH=off" in err
    loggers = ran["log_config"]["loggers"]
    assert loggers["intone"]["level"] == "INFO" and loggers["intone"]["handlers"]
    # Every connection goes through Intone's listener, which also takes TLS on loopback: said once.
    assert ran["http"] == "intone.serving.listener:Listener" and "ssl_certfile" not in ran
    assert err.count("SSL_CERT_FILE=") == 1
    options = json.loads(os.environ["_INTONE_LISTENER"])
    assert options["tls"] == "shared" and options["certfile"].endswith("cert.pem")


@pytest.mark.parametrize(
    ("args", "tls", "fix"),
    [
        (["--host", "0.0.0.0"], "off", "--ssl-certfile"),
        (["--no-tls"], "off", "--no-tls"),
        (["--tls-self-signed"], "only", ""),
    ],
)
def test_serve_chooses_how_its_port_takes_tls(monkeypatch, args, tls, fix):
    monkeypatch.setenv("_INTONE_SERVE_URL", "")
    monkeypatch.setenv("_INTONE_LISTENER", "")
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr("intone.cli._unsafe_bind", lambda settings, host: None)
    assert main(["serve", "--port", "1", *args]) == 0
    options = json.loads(os.environ["_INTONE_LISTENER"])
    assert options["tls"] == tls and fix in options["tls_fix"]


def test_serve_refuses_two_tls_choices(capsys):
    assert main(["serve", "--no-tls", "--tls-self-signed"]) == 2
    assert "use one of" in capsys.readouterr().err


def test_intones_log_under_serve_keeps_secrets_out():
    # In a fresh interpreter: the serve path's logging configuration is process-wide.
    script = (
        "import logging, logging.config\n"
        "from intone.cli import _log_config\n"
        "logging.config.dictConfig(_log_config('info'))\n"
        "logging.getLogger('intone.api').info('first message %s', '{\"xi_api_key\": \"sk_secret\"}')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "first message" in done.stderr and "[redacted]" in done.stderr
    assert "sk_secret" not in done.stderr + done.stdout


def test_serve_says_when_it_is_ready_and_where(tmp_path):
    env = {"INTONE_WARM_UP": "false", "INTONE_AUTH": "off"}
    with serving(tmp_path, env=env) as server:
        deadline = time.monotonic() + 10
        while "intone is ready" not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.log_text()
    ready = [line for line in log.splitlines() if "intone is ready" in line]
    assert len(ready) == 1 and f"{server.url}/docs" in ready[0], log
    assert "INTONE_AUTH=off" in log


def test_say_tells_what_it_wrote(tmp_path, capsys):
    out, timings = tmp_path / "hi.wav", tmp_path / "hi.json"
    args = ["say", "Hello.", "-o", str(out), "--model", "eleven_flash_v2", "--timings", str(timings)]
    assert main(args) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and str(timings) in lines[0] and " s " in lines[0]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


_SENTENCES = " ".join(f"Sentence number {n} is here to make the text long enough." for n in range(5))


@pytest.mark.parametrize("terminal", [True, False])
def test_say_shows_a_progress_bar_on_a_terminal_only(tmp_path, monkeypatch, capsys, terminal):
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    out = tmp_path / "long.wav"
    assert main(["say", _SENTENCES, "-o", str(out), "--voice", "Brian", "--model", "eleven_flash_v2"]) == 0
    written = stderr.getvalue()
    assert written.rstrip().splitlines()[-1].startswith("intone: wrote ")  # the summary is still last
    # tqdm redraws the bar after carriage returns, each time with the characters spoken so far
    spoken = [int(count) for count in re.findall(rf"speaking: .*?(\d+)/{len(_SENTENCES)}", written)]
    assert (bool(spoken) and max(spoken) > 0) == terminal
    assert ("\r" in written) == terminal


def test_say_shows_no_progress_bar_for_a_short_text(tmp_path, monkeypatch):
    stderr = _Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    assert main(["say", "Just this.", "-o", str(tmp_path / "short.wav"), "--model", "eleven_flash_v2"]) == 0
    assert "speaking" not in stderr.getvalue()


# A stand-in for python3, pip and intone: logs the start and end of each step, and prints on stdout
# (as pip does) so that the test sees whether any of it reaches the bootstrap's standard output.
_FAKE_TOOL = """#!/usr/bin/env bash
set -euo pipefail
step="$(basename "$0") $1 $2"
echo "start $step" >> "$FAKE_LOG"
echo "noise from $step"
sleep 0.4
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"
  for tool in python pip intone; do cp "$0" "$3/bin/$tool"; done
fi
echo "end $step" >> "$FAKE_LOG"
"""


def test_bootstrap_runs_one_at_a_time_and_keeps_stdout_clean(tmp_path):
    root = tmp_path / "clone"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", root / "scripts")
    (root / "pyproject.toml").write_text("[project]\n")
    manifest = root / "src" / "intone" / "engines" / "data" / "kokoro-voices.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("python3", "npm"):
        (tools / name).write_text(_FAKE_TOOL)
        (tools / name).chmod(0o755)
    log = tmp_path / "steps.log"
    env = {**os.environ, "FAKE_LOG": str(log), "PYTHON": str(tools / "python3")}
    env["PATH"] = f"{tools}:{env['PATH']}"
    runs = [
        subprocess.Popen(
            ["bash", str(root / "scripts" / "bootstrap.sh")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    steps = ["python3 -m venv", "python -m pip", "python -m pip", "intone voices install"]
    assert log.read_text().splitlines() == [f"{edge} {step}" for step in steps for edge in ("start", "end")]
    assert [out for out, _ in outputs] == ["", ""]
    said = "".join(err for _, err in outputs)
    assert "installing Intone" in said and "voice packs" in said and "waiting" in said


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git working tree")
def test_what_the_readme_examples_write_is_ignored_by_git():
    written = [
        "speech.mp3",
        "realtime.mp3",
        "hello.mp3",
        "hello.json",
        "kokoro-js-1.2.1.tgz",
        ".venv.lock",
        ".env",
    ]
    done = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", *written], capture_output=True, text=True
    )
    assert done.stdout.split() == written


def test_voices_calibrate_prepares_a_voice_once_in_the_engine_cache(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("INTONE_ENGINE_CACHE_DIR", str(cache))
    assert main(["voices", "calibrate", "Rachel"]) == 0
    assert "calibrated Rachel" in capsys.readouterr().out
    assert len(list(cache.glob("kokoro-*-statistics-*.npz"))) == 1
    assert main(["voices", "calibrate", "Rachel"]) == 0
    assert "Rachel is ready" in capsys.readouterr().out
    assert main(["voices", "calibrate", "no-such-voice"]) == 2
    assert "no-such-voice" in capsys.readouterr().err
