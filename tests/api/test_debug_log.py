"""What a real server writes to its log at `--log-level debug`, where websockets logs every frame."""

from __future__ import annotations

from websockets.asyncio.client import connect

from tests.api.server import serving
from tests.api.ws import drain, errors, run, send, ws_url


def test_a_key_of_the_wrong_type_in_a_first_message_stays_out_of_the_debug_log(tmp_path):
    secret = "sk_list_valued_debug_secret"
    with serving(tmp_path, "--log-level", "debug", env={"INTONE_WARM_UP": "false"}) as running:

        async def talk() -> list[dict[str, object]]:
            async with connect(ws_url(running.url, "stream-input", model_id="eleven_flash_v2")) as ws:
                await send(ws, {"text": " ", "xi_api_key": [secret]})
                return await drain(ws)

        [refused] = errors(run(talk()))
    assert refused["error"] == "invalid_message"  # a key must be a string
    logged = running.log_text()
    assert secret not in logged
    assert '"xi_api_key": "[redacted]"' in logged  # the frame was logged, without its key
