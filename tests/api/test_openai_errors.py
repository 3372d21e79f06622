"""OpenAI's error shape, on the routes of an OpenAIRoute router only: every kind of failure a route can
raise arrives as `{"error": {"message", "type", "param", "code"}}` with OpenAI's status, while the app's
other routes keep the ElevenLabs shape (in-process, no engines)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from intone.api import errors
from intone.api.errors import ApiError
from intone.api.openai.errors import OpenAIRoute
from intone.speech.errors import EngineUnavailable, TextTooLong, VoiceNotFound


class _Body(BaseModel):
    input: str


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)
    openai = APIRouter(route_class=OpenAIRoute)
    failures: dict[str, Exception] = {
        "quota": ApiError(401, "quota_exceeded", "This request exceeds your quota."),
        "busy": ApiError(429, "too_many_concurrent_requests", "Too many.", {"Retry-After": "1"}),
        "scope": ApiError(403, "missing_permissions", "Missing text_to_speech."),
        "voice": VoiceNotFound("No such voice."),
        "long": TextTooLong("Too long."),
        "engine": EngineUnavailable("Reinstall."),
        "bug": RuntimeError("a bug"),
    }

    @openai.post("/openai/{kind}")
    async def fail(kind: str, body: _Body) -> None:
        raise failures[kind]

    @app.post("/elevenlabs")
    async def elevenlabs(body: _Body) -> None:
        raise failures["quota"]

    app.include_router(openai)
    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("kind", "status", "error_type", "param", "code"),
    [
        ("quota", 429, "insufficient_quota", None, "quota_exceeded"),
        ("busy", 429, "rate_limit_error", None, "too_many_concurrent_requests"),
        ("scope", 403, "permission_error", None, "missing_permissions"),
        ("voice", 400, "invalid_request_error", "voice", "voice_not_found"),
        ("long", 400, "invalid_request_error", "input", "max_character_limit_exceeded"),
        ("engine", 503, "server_error", None, "service_unavailable"),
        ("bug", 500, "server_error", None, "internal_error"),
    ],
)
def test_failures_answer_in_openai_shape(client, kind, status, error_type, param, code):
    response = client.post(f"/openai/{kind}", json={"input": "Hello."})
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (error_type, param, code)
    assert error["message"]
    if kind == "busy":
        assert response.headers["retry-after"] == "1"


def test_validation_is_a_400_naming_the_field(client):
    response = client.post("/openai/voice", json={"input": 5})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "input", "string_type")
    assert error["message"].startswith("input: ")


def test_other_routes_keep_the_elevenlabs_shape(client):
    response = client.post("/elevenlabs", json={"input": "Hello."})
    assert response.status_code == 401
    assert response.json() == {
        "detail": {"status": "quota_exceeded", "message": "This request exceeds your quota."}
    }
