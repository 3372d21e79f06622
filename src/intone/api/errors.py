"""Errors in the ElevenLabs shape: `{"detail": {"status": "<code>", "message": "<sentence>"}}`.

Validation errors keep FastAPI's 422 shape (`{"detail": [{"loc", "msg", "type"}]}`), which is what the
real API sends and what the SDKs' `UnprocessableEntityError` carries. Everything else, including unknown
routes and unexpected failures, gets the detail object with a status code a program can branch on.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from intone import metrics
from intone.admission.admission import Overloaded
from intone.audio.formats import InvalidOutputFormat
from intone.speech.errors import SpeechError

log = logging.getLogger("intone.api")

# HTTP status per speech error code; anything not listed is a 400.
_SPEECH_STATUS = {
    "voice_not_found": 404,
    "model_not_found": 400,
    "pronunciation_dictionary_not_found": 404,
    "service_unavailable": 503,
    "invalid_markup": 400,
}


class ErrorDetail(BaseModel):
    status: str
    message: str


class ErrorBody(BaseModel):
    detail: ErrorDetail


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation can answer with."""
    return {code: {"model": ErrorBody, "description": HTTPStatus(code).phrase} for code in codes}


class ApiError(Exception):
    """An error the web layer raises itself, with its HTTP status and ElevenLabs status code."""

    def __init__(self, http_status: int, status: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message
        self.headers = headers


def too_busy(error: Overloaded) -> ApiError:
    """The 429 for a request admission turned away (counted by reason in the metrics)."""
    metrics.refused(error.status)
    return ApiError(429, error.status, error.message, {"Retry-After": str(error.retry_after)})


def error_body(status: str, message: str) -> dict[str, dict[str, str]]:
    return {"detail": {"status": status, "message": message}}


def error_response(
    http_status: int, status: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=http_status, headers=headers)


def speech_error_status(error: SpeechError) -> int:
    return _SPEECH_STATUS.get(error.status, 400)


async def _api_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.http_status, error.status, error.message, error.headers)


async def _speech_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SpeechError)
    return error_response(speech_error_status(error), error.status, error.message)


async def _validation_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # loc, msg and type only: echoing the input back could fail to encode (half a surrogate pair).
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


async def _output_format_error(_: Request, error: Exception) -> JSONResponse:
    return error_response(400, "invalid_output_format", str(error))


async def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    phrase = HTTPStatus(error.status_code).phrase
    status = phrase.lower().replace(" ", "_").replace("-", "_")
    message = error.detail if isinstance(error.detail, str) and error.detail != phrase else phrase
    if error.status_code == 404:
        message = "There is no such endpoint here. The API is described at /docs."
    elif error.status_code == 405:
        message = "This endpoint does not accept that method. The API is described at /docs."
    return error_response(error.status_code, status, message, getattr(error, "headers", None))


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # This handler answers outside the request-id middleware, so it adds the header itself.
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.exception("unexpected error on %s %s (request-id %s)", request.method, request.url.path, request_id)
    message = "Something went wrong on the server; its log says what, under this request-id."
    return error_response(500, "internal_error", message, {"request-id": request_id} if request_id else None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(SpeechError, _speech_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidOutputFormat, _output_format_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
