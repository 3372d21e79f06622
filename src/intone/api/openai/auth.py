"""Credentials as OpenAI clients send them: `Authorization: Bearer <key>`, with an Intone API key.

The key is the same key the ElevenLabs routes take in `xi-api-key`, with the same scopes, quota, tier and
history. With authentication off (loopback only), a request without a key, or with a bearer token that is
no Intone key, is the local account's: the `openai` SDKs refuse to send a request without some key, so
programs written for them always carry one (often a placeholder).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import AuthError, check_scope, identify, local_caller
from intone.api.openai.errors import OpenAIError
from intone.api.state import Services, services

_bearer = HTTPBearer(auto_error=False, description="An Intone API key, as `Authorization: Bearer <key>`.")


def _identify(svc: Services, secret: str | None) -> Caller:
    """The caller behind a bearer token (None: none was sent). Blocking: call it from a thread."""
    if svc.settings.auth == "off":
        if not secret or svc.store.keys.authenticate(secret) is None:
            return local_caller(svc)
    elif not secret:
        raise AuthError(
            401, "invalid_api_key", "This request needs an API key, sent as `Authorization: Bearer <key>`."
        )
    return identify(svc, secret)


def bearer(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the request's caller, identified by its bearer token, who must hold `scope`."""

    async def caller(
        request: Request,
        svc: Annotated[Services, Depends(services)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        try:
            found = await run_in_threadpool(_identify, svc, credentials.credentials if credentials else None)
            check_scope(found, scope)
        except AuthError as error:
            raise OpenAIError(error.http_status, error.status, error.message) from None
        request.state.caller = found
        return found

    return caller
