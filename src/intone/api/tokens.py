"""Single-use tokens: `POST /v1/single-use-token/{token_type}` gives a token that acts for the key once,
within 15 minutes, so a browser can open a realtime socket without ever holding the key."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import REALTIME_SCRIBE, TTS_WEBSOCKET, AuthError, check_scope, require
from intone.api.errors import ApiError, documented
from intone.api.state import Services, services

router = APIRouter(tags=["tokens"], responses=documented(400, 401, 403))

TOKEN_LIFETIME = timedelta(minutes=15)
# What each kind of token opens, and the scope its key needs for that.
_SCOPES = {TTS_WEBSOCKET: Scope.TEXT_TO_SPEECH, REALTIME_SCRIBE: Scope.SPEECH_TO_TEXT}


class SingleUseToken(BaseModel):
    token: str


@router.post("/v1/single-use-token/{token_type}", summary="Create a single-use token")
async def create_single_use_token(
    token_type: Literal["tts_websocket", "realtime_scribe", "batch_scribe"],
    caller: Annotated[Caller, Depends(require(None))],
    svc: Annotated[Services, Depends(services)],
) -> SingleUseToken:
    if token_type not in _SCOPES:
        raise ApiError(
            400,
            "unsupported_token_type",
            f"POST /v1/speech-to-text takes no token here, so a {token_type} token would open nothing; "
            f"{TTS_WEBSOCKET} tokens open the text-to-speech sockets, {REALTIME_SCRIBE} the realtime "
            "speech-to-text socket.",
        )
    try:
        check_scope(caller, _SCOPES[token_type])
    except AuthError as error:
        raise error.api_error() from None
    token = await run_in_threadpool(svc.tokens.issue, caller.subject, token_type, TOKEN_LIFETIME)
    return SingleUseToken(token=token)
