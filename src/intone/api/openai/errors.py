"""Errors in OpenAI's shape, on the OpenAI-compatible routes only: `{"error": {"message", "type", "param",
"code"}}`.

The rest of the app answers in the ElevenLabs shape through handlers installed on the app; these routes
use `OpenAIRoute`, which turns every failure raised while handling one of them (validation, credentials,
the speech layer, admission) into OpenAI's shape before those handlers see it. The `openai` SDKs pick
their exception class by HTTP status, so the statuses follow OpenAI's: 400 for anything wrong in the
request (validation included, where FastAPI would say 422), 401 for credentials, 404 for an unknown model,
429 for rate limits and quotas. `code` is Intone's own code for the failure, for programs to branch on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from intone.api.errors import ApiError, speech_error_status
from intone.audio.formats import InvalidOutputFormat
from intone.speech.errors import SpeechError

log = logging.getLogger("intone.api")

INVALID_REQUEST = "invalid_request_error"

# HTTP status per Intone code where OpenAI's differs from the ElevenLabs routes' (their quota is a 401).
_STATUS = {
    "voice_not_found": 400,
    "model_not_found": 404,
    "quota_exceeded": 429,
}
# OpenAI's error type by HTTP status (what its API sends); anything else is an invalid request.
_TYPES = {403: "permission_error", 429: "rate_limit_error"}
# The request field an Intone code is about, for `param`.
_PARAMS = {
    "voice_not_found": "voice",
    "model_not_found": "model",
    "model_can_not_do_text_to_speech": "model",
    "text_empty": "input",
    "max_character_limit_exceeded": "input",
    "invalid_markup": "input",
    "invalid_voice_settings": "speed",
    "invalid_audio": "file",
    "audio_too_long": "file",
}


class OpenAIErrorObject(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(BaseModel):
    error: OpenAIErrorObject


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation can answer with; "4XX" for the rest, which
    also keeps FastAPI from documenting a 422 these routes never send."""
    return {
        **{code: {"model": OpenAIErrorBody, "description": HTTPStatus(code).phrase} for code in codes},
        "4XX": {"model": OpenAIErrorBody, "description": "Another client error, in the same shape"},
    }


class OpenAIError(Exception):
    """An error raised by the OpenAI adapter itself."""

    def __init__(self, http_status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.param = param


def error_response(
    http_status: int,
    code: str | None,
    message: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error_type = "server_error" if http_status >= 500 else _TYPES.get(http_status, INVALID_REQUEST)
    if code == "quota_exceeded":
        error_type = "insufficient_quota"  # what OpenAI calls an exhausted quota
    body = OpenAIErrorBody(error=OpenAIErrorObject(message=message, type=error_type, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=http_status, headers=headers)


def _from_intone(http_status: int, code: str, message: str, headers: dict[str, str] | None) -> JSONResponse:
    return error_response(_STATUS.get(code, http_status), code, message, _PARAMS.get(code), headers)


def _validation(error: RequestValidationError) -> JSONResponse:
    """The first problem, named by its field (`input`, `timestamp_granularities[]`), as OpenAI reports it."""
    first = error.errors()[0]
    where = [str(part) for part in first["loc"][1:] if not isinstance(part, int)]
    param = where[0] if where else None
    message = f"{param}: {first['msg']}" if param else first["msg"]
    more = len(error.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''} in the request)"
    return error_response(400, first["type"], message, param)


def _http(error: StarletteHTTPException) -> JSONResponse:
    phrase = HTTPStatus(error.status_code).phrase
    message = error.detail if isinstance(error.detail, str) else phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    return error_response(error.status_code, code, message, headers=getattr(error, "headers", None))


def answer(request: Request, error: Exception) -> JSONResponse:
    """The OpenAI-shaped response to a failure while handling `request`."""
    match error:
        case OpenAIError():
            return error_response(error.http_status, error.code, error.message, error.param)
        case ApiError():
            return _from_intone(error.http_status, error.status, error.message, error.headers)
        case SpeechError():
            return _from_intone(speech_error_status(error), error.status, error.message, None)
        case RequestValidationError():
            return _validation(error)
        case InvalidOutputFormat():
            return error_response(400, "invalid_output_format", str(error), "response_format")
        case StarletteHTTPException():
            return _http(error)
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.exception("unexpected error on %s %s (request-id %s)", request.method, request.url.path, request_id)
    message = "Something went wrong on the server; its log says what, under this request-id."
    return error_response(
        500, "internal_error", message, headers={"request-id": request_id} if request_id else None
    )


class OpenAIRoute(APIRoute):
    """A route whose failures answer in OpenAI's shape (`answer`), whatever the app's handlers do."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as error:
                return answer(request, error)

        return route
