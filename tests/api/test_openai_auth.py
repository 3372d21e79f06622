"""Bearer credentials on the OpenAI-compatible routes, with small fakes of the key store: a known key is its
caller; with auth off a missing or unknown token is the local account (the SDKs always send one)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from intone.accounts.caller import LOCAL_SUBJECT
from intone.api.auth import AuthError
from intone.api.openai.auth import _identify
from intone.store.keys import ApiKey


def _services(auth: str, known: dict[str, ApiKey]) -> SimpleNamespace:
    keys = SimpleNamespace(authenticate=known.get)
    return SimpleNamespace(
        settings=SimpleNamespace(auth=auth, local_tier="enterprise"), store=SimpleNamespace(keys=keys)
    )


def _key(key_id: str, disabled: bool = False) -> ApiKey:
    return ApiKey(key_id, key_id, "hint", frozenset(), None, "pro", disabled, datetime.now(UTC))


@pytest.mark.parametrize("auth", ["required", "off"])
def test_a_known_key_is_its_own_caller(auth):
    assert _identify(_services(auth, {"secret": _key("k1")}), "secret").subject == "k1"


@pytest.mark.parametrize("secret", [None, "sk-placeholder"])
def test_with_auth_off_no_key_or_a_placeholder_is_the_local_account(secret):
    assert _identify(_services("off", {}), secret).subject == LOCAL_SUBJECT


@pytest.mark.parametrize(("secret", "message"), [(None, "Bearer"), ("sk-placeholder", "Invalid")])
def test_with_auth_required_no_key_or_an_unknown_one_is_refused(secret, message):
    with pytest.raises(AuthError) as raised:
        _identify(_services("required", {}), secret)
    assert (raised.value.http_status, raised.value.status) == (401, "invalid_api_key")
    assert message in raised.value.message


def test_a_disabled_key_is_refused_even_with_auth_off():
    with pytest.raises(AuthError):
        _identify(_services("off", {"secret": _key("k1", disabled=True)}), "secret")
