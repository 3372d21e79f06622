"""ElevenLabs' own locust script for scale testing the stream-input WebSocket ("Scale testing concurrency
limits" in their Models documentation), pointed at Intone.

Run from the repo root against a running server (--host is the WebSocket base URL, ws:// or wss://):

    locust -f bench/locustfile.py --headless -u 10 -r 1 -t 2m --host ws://127.0.0.1:8000 \\
        --voice-id JBFqnCBsd6RMkjVDRZzb

Each user opens a socket every 20 s, sends one text and the end of stream, and records the time to the
first response as "TTS Stream Success (First Byte)".

The tasks, endpoint and messages are ElevenLabs' script unchanged. The adaptations, and nothing else:
- --api-key and --voice-id may also come from ELEVENLABS_API_KEY and ELEVENLABS_VOICE_ID (the script's
  defaults, "YOUR_API_KEY" and "aria", stay the fallbacks; Intone has no voice "aria", so pass a voice id);
- --model-id (or ELEVENLABS_MODEL_ID), new: when set it is added to the URL as model_id; unset, the URL
  is exactly the script's and the server's default model speaks;
- type annotations, the long URL split over two lines, `contextlib.suppress` for the final
  try/except/pass, and formatting, for this repo's ruff.
The script's quirks are kept on purpose: --use-text-array is a string, so any value but "" picks a random
text from TEXT_ARRAY, and `audio_size is None` can never be true.
"""

import contextlib
import json
import os
import random
import time
from typing import Any

import gevent
import locust
import websocket
from locust import User, constant_throughput, events, task
from locust.argument_parser import LocustArgumentParser

# Averages up to 10 seconds of audio when played, depends on the voice speed
DEFAULT_TEXT = (
    "Hello, this is a test message. I am testing if a long input will cause issues for the model "
    "like this sentence. "
)

TEXT_ARRAY = [
    "Hello.",
    "Hello, this is a test message.",
    DEFAULT_TEXT,
    DEFAULT_TEXT * 2,
    DEFAULT_TEXT * 3,
]


# Custom command line arguments
@events.init_command_line_parser.add_listener
def on_parser_init(parser: LocustArgumentParser) -> None:
    # Adapted: the key and voice may come from the environment (the script's defaults stay the fallbacks).
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ELEVENLABS_API_KEY", "YOUR_API_KEY"),
        help="API key for authentication",
    )
    parser.add_argument("--encoding", default="mp3_22050_32", help="Encoding")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="Text to use")
    parser.add_argument("--use-text-array", default="false", help="Text to use")
    parser.add_argument(
        "--voice-id", default=os.environ.get("ELEVENLABS_VOICE_ID", "aria"), help="Text to use"
    )
    # Adapted: the script lets the server pick the model; this makes it choosable (unset: the script's URL).
    parser.add_argument("--model-id", default=os.environ.get("ELEVENLABS_MODEL_ID", ""), help="Model id")


class WebSocketTTSUser(User):
    # Each user will send a request every 20 seconds, regardless of how long each request takes
    wait_time = constant_throughput(0.05)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.api_key = self.environment.parsed_options.api_key
        self.voice_id = self.environment.parsed_options.voice_id
        self.text = self.environment.parsed_options.text
        self.encoding = self.environment.parsed_options.encoding
        self.use_text_array = self.environment.parsed_options.use_text_array
        self.model_id = self.environment.parsed_options.model_id  # adapted: see --model-id
        if self.use_text_array:
            self.text = random.choice(TEXT_ARRAY)
        self.all_recieved = False

    @task
    def tts_task(self) -> None:
        # Do jitter waiting of up to 1 second
        # Users appear to be spawned every second so this ensures requests are not aligned
        gevent.sleep(random.random())

        max_wait_time = 10

        # Connection details
        uri = (
            f"{self.environment.host}/v1/text-to-speech/{self.voice_id}/stream-input"
            f"?auto_mode=true&output_format={self.encoding}"
        )
        if self.model_id:  # adapted: see --model-id
            uri += f"&model_id={self.model_id}"
        headers = {"xi-api-key": self.api_key}

        ws = None
        self.all_recieved = False
        try:
            init_msg = {"text": " "}
            # Use proper header format for websocket - this is case sensitive!
            ws = websocket.create_connection(uri, header=headers)
            ws.send(json.dumps(init_msg))

            # Start measuring after websocket initiated but before any messages are sent
            send_request_time = time.perf_counter()
            ws.send(json.dumps({"text": self.text}))

            # Send to flush and receive the audio
            ws.send(json.dumps({"text": ""}))

            def _receive() -> None:
                t_first_response = None
                audio_size = 0
                try:
                    while True:
                        # Wait up to 10 seconds for a response
                        ws.settimeout(max_wait_time)
                        response = ws.recv()
                        response_data = json.loads(response)

                        if "audio" in response_data and response_data["audio"]:  # noqa: RUF019 (as the script has it)
                            audio_size = audio_size + len(response_data["audio"])

                        if t_first_response is None:
                            t_first_response = time.perf_counter()
                            first_byte_ms = (t_first_response - send_request_time) * 1000
                            if audio_size is None:
                                # The first response should always have audio
                                locust.events.request.fire(
                                    request_type="websocket",
                                    name="Bad Response (no audio)",
                                    response_time=first_byte_ms,
                                    response_length=audio_size,
                                    exception=Exception("Response has no audio"),
                                )
                                break

                        if "isFinal" in response_data and response_data["isFinal"]:  # noqa: RUF019 (as the script has it)
                            # Fire this event once finished streaming, but report the important TTFB metric
                            locust.events.request.fire(
                                request_type="websocket",
                                name="TTS Stream Success (First Byte)",
                                response_time=first_byte_ms,
                                response_length=audio_size,
                                exception=None,
                            )
                            break

                except websocket.WebSocketTimeoutException:
                    locust.events.request.fire(
                        request_type="websocket",
                        name="TTS Stream Timeout",
                        response_time=max_wait_time * 1000,
                        response_length=audio_size,
                        exception=Exception("Timeout waiting for response"),
                    )
                except Exception as e:
                    # Typically JSON decode error if the server returns HTTP backoff error
                    locust.events.request.fire(
                        request_type="websocket",
                        name="TTS Stream Failure",
                        response_time=0,
                        response_length=0,
                        exception=e,
                    )
                finally:
                    self.all_recieved = True

            gevent.spawn(_receive)

            # Sleep until recieved so new tasks aren't spawned
            while not self.all_recieved:
                gevent.sleep(1)

        except websocket.WebSocketTimeoutException:
            locust.events.request.fire(
                request_type="websocket",
                name="TTS Stream Timeout",
                response_time=max_wait_time * 1000,
                response_length=0,
                exception=Exception("Timeout waiting for response"),
            )
        except Exception as e:
            locust.events.request.fire(
                request_type="websocket",
                name="TTS Stream Failure",
                response_time=0,
                response_length=0,
                exception=e,
            )
        finally:
            # Try and close the websocket gracefully
            with contextlib.suppress(Exception):
                if ws:
                    ws.close()
