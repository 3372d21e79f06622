"""Who is calling: the API key (or single-use token) behind a request, and whether it may.

HTTP requests carry the key in `xi-api-key`. A missing, unknown or disabled key is a 401
`invalid_api_key` (with no key at all, before the body is read: `body_limit.py`); a key without the
endpoint's scope is a 403 `missing_permissions`. With auth off (loopback only), a request without a
key is the local account's; one with a key is still that key's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from starlette.datastructures import Headers

from intone.accounts.caller import LOCAL_SUBJECT, Caller
from intone.accounts.scopes import DEFAULT_SCOPES, Scope
from intone.accounts.tiers import get_tier
from intone.api.errors import ApiError
from intone.api.state import Services, services
from intone.store.keys import ApiKey

TTS_WEBSOCKET = "tts_websocket"
REALTIME_SCRIBE = "realtime_scribe"

# The dependencies `require` made: a route that has one needs a key (see `needs_key`).
_KEY_CHECKS: set[Callable[..., Any]] = set()


class AuthError(Exception):
    """Why a caller is refused: an ElevenLabs status code, a sentence, and the HTTP status."""

    def __init__(self, http_status: int, status: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message

    def api_error(self) -> ApiError:
        return ApiError(self.http_status, self.status, self.message)


def local_caller(svc: Services) -> Caller:
    # Key management stays with `intone keys`: a local process must not mint keys that would still work
    # once the server is exposed with authentication on.
    return Caller(LOCAL_SUBJECT, "local", DEFAULT_SCOPES, get_tier(svc.settings.local_tier), None)


def caller_of(key: ApiKey) -> Caller:
    if key.disabled:
        raise AuthError(401, "invalid_api_key", "This API key is disabled.")
    return Caller(key.key_id, key.name, key.scopes, get_tier(key.tier), key.character_limit, key.created_at)


def missing_key() -> AuthError:
    return AuthError(401, "invalid_api_key", "This request needs an API key, sent in the xi-api-key header.")


def carries_key(headers: Headers) -> bool:
    """Whether an HTTP request sends a key at all (an empty header is none, as in `identify`)."""
    return bool(headers.get("xi-api-key"))


def bearer_key(value: str | None) -> str | None:
    """The key in `Bearer <key>`; None for anything else (a proxy may add its own Basic credentials)."""
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None


def needs_key(dependant: Dependant) -> bool:
    """Whether a route (its FastAPI dependant) asks `require` for its caller."""
    return dependant.call in _KEY_CHECKS or any(needs_key(sub) for sub in dependant.dependencies)


def identify(svc: Services, secret: str | None) -> Caller:
    """The caller behind an API key (None: none was sent). Blocking: call it from a thread."""
    if not secret:
        if svc.settings.auth == "off":
            return local_caller(svc)
        raise missing_key()
    key = svc.store.keys.authenticate(secret)
    if key is None:
        raise AuthError(401, "invalid_api_key", "Invalid API key.")
    return caller_of(key)


def redeem(svc: Services, token: str, token_type: str = TTS_WEBSOCKET) -> Caller:
    """The caller a single-use token of `token_type` acts for; the token is spent. Blocking: call it from
    a thread."""
    redeemed = svc.tokens.redeem(token)
    if redeemed is None or redeemed[1] != token_type:
        raise AuthError(401, "invalid_api_key", "Invalid or already used single-use token.")
    return _by_id(svc, redeemed[0])


def current(svc: Services, caller: Caller) -> Caller:
    """The caller as its key is now: a socket open for long sees a quota, tier or scope change, and a
    key disabled or deleted meanwhile stops it. Blocking: call it from a thread."""
    return caller if caller.subject == LOCAL_SUBJECT else _by_id(svc, caller.subject)


def _by_id(svc: Services, key_id: str) -> Caller:
    if key_id == LOCAL_SUBJECT and svc.settings.auth == "off":
        return local_caller(svc)
    key = svc.store.keys.get(key_id)
    if key is None:
        raise AuthError(401, "invalid_api_key", "The API key behind this request no longer exists.")
    return caller_of(key)


def check_scope(caller: Caller, scope: Scope) -> None:
    if not caller.may(scope):
        raise AuthError(
            403,
            "missing_permissions",
            f"The API key you used is missing the permission {scope.value} to execute this operation.",
        )


def require(scope: Scope | None) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the request's caller, who must hold `scope` (None: any key; the route checks
    the scope it needs itself)."""

    async def caller(
        request: Request,
        svc: Annotated[Services, Depends(services)],
        xi_api_key: Annotated[str | None, Header(description="Your API key.")] = None,
    ) -> Caller:
        try:
            found = await run_in_threadpool(identify, svc, xi_api_key)
            if scope is not None:
                check_scope(found, scope)
        except AuthError as error:
            raise error.api_error() from None
        request.state.caller = found
        return found

    _KEY_CHECKS.add(caller)
    return caller
