"""The playground page in a real browser: Debian's Chromium, driven by Playwright, against a real server
with authentication on. `INTONE_SCREENSHOTS=1` also saves the main states to docs/playground/."""

from __future__ import annotations

import io
import json
import os
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect, sync_playwright

from tests.api.server import ROOT, Server, serving

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "playground"
BRIAN = "nPczCjzI2devNBz1zQrb"  # an American man: Piper speaks him on the fast model
TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    # No warm-up: the tests need one engine only (Piper), which loads on the first request.
    with serving(tmp_path_factory.mktemp("playground"), env={"INTONE_WARM_UP": "false"}) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "the browser tests need Chromium (Debian: chromium), which bootstrap installs"
    with sync_playwright() as playwright:
        # A fake microphone (a beep), granted without asking, for the record button.
        fake_microphone = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=fake_microphone)
        yield launched
        launched.close()


class Watched:
    """A page and what it did: console errors, uncaught exceptions, and every address it asked for."""

    def __init__(self, context: BrowserContext) -> None:
        self.page: Page = context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda socket: self.requests.append(socket.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    yield opened
    opened.close()


def keyed(context: BrowserContext, server: Server) -> Watched:
    """A page whose browser already holds the key, as on every visit after the first."""
    context.add_init_script(f"localStorage.setItem('intone-api-key', {json.dumps(server.api_key)})")
    watched = Watched(context)
    watched.page.goto(f"{server.url}/")
    expect(watched.page.locator("#speak")).to_be_enabled()
    return watched


def choose_fast(page: Page) -> None:
    page.select_option("#voice", BRIAN)
    page.select_option("#model", "eleven_flash_v2")


def shoot(page: Page, name: str) -> None:
    if os.environ.get("INTONE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_the_page_loads_without_a_key_errors_or_outside_requests(server: Server, context: BrowserContext):
    watched = keyed(context, server)
    page = watched.page
    voices = page.locator("#voice option")
    assert voices.count() > 20
    expect(page.locator("#voice")).to_contain_text("Brian (male, american, middle_aged)")
    expect(page.locator("#model")).to_contain_text("eleven_flash_v2")
    assert watched.errors == []
    assert watched.requests and all(url.startswith(f"{server.url}/") for url in watched.requests)
    # The page itself is served without a key, under a policy that runs only its own script.
    response = page.request.get(f"{server.url}/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_page_asks_for_a_key_once_and_says_when_it_is_wrong(server: Server, context: BrowserContext):
    page = Watched(context).page
    page.goto(f"{server.url}/")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#message")).to_have_text(
        "This request needs an API key, sent in the xi-api-key header."
    )
    shoot(page, "key")
    page.fill("#key", "sk_not_a_key")
    page.click("text=Use this key")
    expect(page.locator("#message")).to_have_text("Invalid API key.")
    page.fill("#key", server.api_key)
    page.keyboard.press("Enter")
    expect(page.locator("#speak")).to_be_enabled()
    expect(page.locator("#message")).to_be_hidden()
    page.reload()
    expect(page.locator("#speak")).to_be_enabled()
    expect(page.locator("#key-form")).to_be_hidden()


def _word(page: Page) -> int:
    return page.evaluate("Number(document.querySelector('#readalong .current')?.dataset.index ?? -1)")


def test_speak_plays_while_it_streams_and_the_highlight_follows(server: Server, context: BrowserContext):
    watched = keyed(context, server)
    page = watched.page
    choose_fast(page)
    page.fill("#text", TEXT)
    page.click("#speak")
    words, positions = set(), []
    while page.evaluate("window.playground.state") in ("requesting", "streaming", "playing"):
        words.add(_word(page))
        positions.append(page.evaluate("window.playground.position"))
        if len(words) == 6:
            shoot(page, "speaking")
        page.wait_for_timeout(100)
    assert page.evaluate("window.playground.state") == "done"
    assert page.evaluate("window.playground.received") > 24000 * 2 * 3  # over 3 s of 24 kHz audio
    assert positions[-1] > 3 and positions == sorted(positions)
    assert len(words - {-1}) >= 8  # of the text's 17 words, most were seen highlighted
    with page.expect_download() as download:
        page.click("#download")
    with wave.open(io.BytesIO(Path(download.value.path()).read_bytes())) as wav:
        assert wav.getframerate() == 24000
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert len(samples) > 24000 * 3 and np.abs(samples).max() > 3000
    assert watched.errors == []


def test_mp3_plays_through_media_source(server: Server, context: BrowserContext):
    page = keyed(context, server).page
    choose_fast(page)
    page.select_option("#format", "mp3_22050_32")
    page.fill("#text", "Glue the sheet to the dark blue background.")
    page.click("#speak")
    expect(page.locator("body")).to_have_attribute("data-state", "done", timeout=30_000)
    assert page.evaluate("window.playground.position") > 1.5
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.endswith(".mp3")
    audio = Path(download.value.path()).read_bytes()
    assert len(audio) > 4000 and audio[:2] == b"\xff\xf3"  # an MPEG-2 layer III frame (22.05 kHz)


def test_live_mode_speaks_as_you_type(server: Server, context: BrowserContext):
    watched = keyed(context, server)
    page = watched.page
    choose_fast(page)
    page.click("#live-toggle")
    expect(page.locator("#live-text")).to_be_enabled()
    page.keyboard.type("Hello there, this is typed live.")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.playground.liveReceived > 24000", timeout=20_000)
    shoot(page, "live")
    page.click("#live-toggle")
    expect(page.locator("#live-status")).to_have_text("Live mode ended.", timeout=20_000)
    sockets = [url for url in watched.requests if url.startswith("ws")]
    assert len(sockets) == 1 and "single_use_token=" in sockets[0] and server.api_key not in sockets[0]
    assert watched.errors == []


def test_an_api_error_shows_as_a_message(server: Server, context: BrowserContext):
    page = keyed(context, server).page
    choose_fast(page)
    page.fill("#text", "word " * 7000)  # 35,000 characters, over the model's 30,000
    expect(page.locator("#count")).to_have_class("hint over")
    page.click("#speak")
    expect(page.locator("#message")).to_contain_text("30000")
    expect(page.locator("#speak")).to_be_enabled()
    shoot(page, "error")


def test_a_recording_is_transcribed(server: Server, context: BrowserContext):
    spoken = httpx.post(
        f"{server.url}/v1/text-to-speech/{BRIAN}?output_format=wav_16000",
        headers=server.headers,
        json={"text": "Glue the sheet to the dark blue background.", "model_id": "eleven_flash_v2"},
        timeout=60,
    )
    spoken.raise_for_status()
    watched = keyed(context, server)
    page = watched.page
    page.set_input_files(
        "#recording", {"name": "canoe.wav", "mimeType": "audio/wav", "buffer": spoken.content}
    )
    page.click("#transcribe")
    expect(page.locator("#transcript")).to_contain_text(
        "dark blue background", ignore_case=True, timeout=30_000
    )
    expect(page.locator("#transcribe-status")).to_have_text("Transcribed (language: eng).")
    shoot(page, "transcribed")
    # The microphone's recording goes the same way (the fake device only beeps: no words to check).
    page.click("#record")
    expect(page.locator("#record")).to_have_text("Stop recording")
    page.wait_for_timeout(1000)
    page.click("#record")
    expect(page.locator("#transcribe-status")).to_contain_text("Transcribed", timeout=30_000)
    assert watched.errors == []
