"""Voices: listing (v1 and the searchable, paginated v2), one voice, and per-voice settings.

Settings are the caller's: each account (key) reads and edits its own, over the shared defaults.

Intone's voices are premade: `category` "premade", `voice_type` "default". Filters for kinds of voice
this server does not have (cloned, community, a collection...) match nothing rather than fail, as they
would on an account that has none.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel

from intone.accounts.caller import Caller
from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import ApiError, documented
from intone.api.schemas import AsciiDigits, VoiceSettings
from intone.api.state import Services, services
from intone.speech.settings import combine
from intone.speech.voices import Voice, catalog, get_voice

# One dependency object for the router and the handlers that read the caller: FastAPI runs it once.
_reader = require(Scope.VOICES_READ)
Reader = Annotated[Caller, Depends(_reader)]
Writer = Annotated[Caller, Depends(require(Scope.VOICES_WRITE))]

router = APIRouter(tags=["voices"], responses=documented(400, 401, 403, 404), dependencies=[Depends(_reader)])
# Previews are fetched the way ElevenLabs' preview URLs are: a plain GET from an audio player, with no
# key. They are fixed sentences in the voice, made once and kept.
previews_router = APIRouter(tags=["voices"], responses=documented(404))

ServicesDep = Annotated[Services, Depends(services)]
PAGE_SIZE_MAX = 100
# A page token is the base64 of its first voice's index, written in ASCII digits.
_PAGE_START = re.compile(r"[0-9]{1,9}")
VERIFIED_MODEL = "eleven_multilingual_v2"


class VoiceSettingsResponse(BaseModel):
    stability: float | None
    similarity_boost: float | None
    style: float | None
    use_speaker_boost: bool | None
    speed: float | None


class VerifiedLanguage(BaseModel):
    language: str
    model_id: str
    accent: str | None = None
    locale: str | None = None
    preview_url: str | None = None


class VoiceResponse(BaseModel):
    voice_id: str
    name: str
    samples: list[dict[str, object]] | None = None
    category: str = "premade"
    fine_tuning: dict[str, object] | None = None
    labels: dict[str, str]
    description: str
    preview_url: str | None = None
    available_for_tiers: list[str] = []
    settings: VoiceSettingsResponse | None = None
    sharing: dict[str, object] | None = None
    high_quality_base_model_ids: list[str] = []
    verified_languages: list[VerifiedLanguage] = []
    collection_ids: list[str] = []
    safety_control: str | None = None
    voice_verification: dict[str, object] | None = None
    permission_on_resource: str | None = None
    is_owner: bool = False
    is_legacy: bool = False
    is_mixed: bool = False
    favorited_at_unix: int | None = None
    created_at_unix: int | None = None


class VoicesV1(BaseModel):
    voices: list[VoiceResponse]


class VoicesV2(BaseModel):
    voices: list[VoiceResponse]
    has_more: bool
    total_count: int
    next_page_token: str | None


class StatusOk(BaseModel):
    status: str = "ok"


def _settings_response(stored: dict[str, float | bool | None] | None) -> VoiceSettingsResponse:
    return VoiceSettingsResponse(**combine(stored).as_dict())


def _voice_response(
    voice: Voice, stored: dict[str, float | bool | None] | None, base_url: str, kokoro: frozenset[str]
) -> VoiceResponse:
    return VoiceResponse(
        voice_id=voice.voice_id,
        name=voice.name,
        labels=voice.labels,
        description=voice.description,
        preview_url=f"{base_url}v1/voices/{voice.voice_id}/preview",
        settings=_settings_response(stored),
        high_quality_base_model_ids=[VERIFIED_MODEL, "eleven_v3"],
        is_legacy=voice.legacy,
        verified_languages=[
            VerifiedLanguage(
                language=language, model_id=VERIFIED_MODEL, accent=accent, locale=locale, preview_url=None
            )
            for language, accent, locale in voice.native_varieties(kokoro)
        ],
    )


async def _responses(
    svc: Services, caller: Caller, request: Request, voices: list[Voice]
) -> list[VoiceResponse]:
    ids = [voice.voice_id for voice in voices]
    stored = await run_in_threadpool(svc.store.voice_settings.get_many, caller.subject, ids)
    base_url, kokoro = str(request.base_url), _kokoro_languages(svc)
    return [_voice_response(voice, stored.get(voice.voice_id), base_url, kokoro) for voice in voices]


def _kokoro_languages(svc: Services) -> frozenset[str]:
    return svc.synthesizer.engines.languages()["kokoro"]


@router.get("/v1/voices", summary="List voices")
async def get_all(
    svc: ServicesDep, caller: Reader, request: Request, show_legacy: bool | None = False
) -> VoicesV1:
    voices = [voice for voice in catalog().voices if show_legacy or not voice.legacy]
    return VoicesV1(voices=await _responses(svc, caller, request, voices))


def _matches(voice: Voice, search: str | None, filters: dict[str, list[str]], kokoro: frozenset[str]) -> bool:
    if search:
        haystack = " ".join((voice.name, voice.description, *voice.labels.values(), "premade")).lower()
        if not all(word in haystack for word in search.lower().split()):
            return False
    labels = voice.labels
    for key, wanted in filters.items():
        have = voice.native_languages(kokoro) if key == "language" else (labels.get(key, ""),)
        if wanted and not any(w.lower() in have for w in wanted):
            return False
    return True


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        digits = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        digits = ""
    # Only a token as _page_token writes it: int() alone would also read " 5", "+5" or "５", and the
    # decoder skips characters outside the alphabet.
    if not _PAGE_START.fullmatch(digits) or _page_token(int(digits)) != token:
        raise ApiError(400, "invalid_page_token", "next_page_token is not one this server handed out.")
    return int(digits)


def _page_token(start: int) -> str:
    return base64.urlsafe_b64encode(str(start).encode()).decode()


@router.get("/v2/voices", summary="Search voices")
async def search(
    svc: ServicesDep,
    caller: Reader,
    request: Request,
    next_page_token: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX), AsciiDigits] = 10,
    search: str | None = None,
    sort: Literal["created_at_unix", "name"] | None = None,
    sort_direction: Literal["asc", "desc"] | None = None,
    voice_type: Literal[
        "personal", "community", "default", "workspace", "non-default", "non-community", "saved"
    ]
    | None = None,
    category: Literal["premade", "cloned", "generated", "professional"] | None = None,
    fine_tuning_state: str | None = None,
    collection_id: str | None = None,
    include_total_count: bool = True,
    voice_ids: Annotated[list[str] | None, Query(max_length=PAGE_SIZE_MAX)] = None,
    gender: str | None = None,
    age: str | None = None,
    accent: str | None = None,
    language: Annotated[list[str] | None, Query()] = None,
    use_cases: Annotated[list[str] | None, Query()] = None,
) -> VoicesV2:
    start = _page_start(next_page_token)
    kinds_we_have = voice_type in (None, "default", "non-community") and category in (None, "premade")
    if not kinds_we_have or fine_tuning_state or collection_id:
        found: list[Voice] = []
    else:
        filters = {
            "gender": [gender] if gender else [],
            "age": [age] if age else [],
            "accent": [accent] if accent else [],
            "language": language or [],
            "use_case": use_cases or [],
        }
        kokoro = _kokoro_languages(svc)
        found = [
            voice
            for voice in catalog().voices
            if _matches(voice, search, filters, kokoro) and (not voice_ids or voice.voice_id in voice_ids)
        ]
    if sort == "name":
        found.sort(key=lambda v: v.name.lower(), reverse=sort_direction == "desc")
    elif sort_direction == "desc":
        found.reverse()  # premade voices have no creation time; catalog order stands in for it
    page = found[start : start + page_size]
    more = start + page_size < len(found)
    return VoicesV2(
        voices=await _responses(svc, caller, request, page),
        has_more=more,
        total_count=len(found),
        next_page_token=_page_token(start + page_size) if more else None,
    )


@router.get("/v1/voices/settings/default", summary="Get default voice settings")
async def default_settings() -> VoiceSettingsResponse:
    return _settings_response(None)


@router.get("/v1/voices/{voice_id}", summary="Get voice")
async def get(
    svc: ServicesDep, caller: Reader, request: Request, voice_id: str, with_settings: bool | None = True
) -> VoiceResponse:
    voice = get_voice(voice_id)
    return (await _responses(svc, caller, request, [voice]))[0]


@router.get("/v1/voices/{voice_id}/settings", summary="Get voice settings")
async def get_settings(svc: ServicesDep, caller: Reader, voice_id: str) -> VoiceSettingsResponse:
    voice = get_voice(voice_id)
    stored = await run_in_threadpool(svc.store.voice_settings.get, caller.subject, voice.voice_id)
    return _settings_response(stored)


@router.post("/v1/voices/{voice_id}/settings/edit", summary="Edit voice settings")
async def edit_settings(svc: ServicesDep, caller: Writer, voice_id: str, body: VoiceSettings) -> StatusOk:
    voice = get_voice(voice_id)
    # Fields left out keep their stored value, so editing one setting does not reset the others.
    await run_in_threadpool(svc.store.voice_settings.merge, caller.subject, voice.voice_id, body.model_dump())
    return StatusOk()


@previews_router.get(
    "/v1/voices/{voice_id}/preview",
    summary="A short sample of the voice (its preview_url)",
    response_class=FileResponse,
    responses={200: {"content": {"audio/mpeg": {}}}},
)
async def preview(svc: ServicesDep, voice_id: str) -> FileResponse:
    path = await svc.previews.path(get_voice(voice_id), svc.scheduler)
    # The URL stays when the sample changes (a new pack set), so clients revalidate by its ETag.
    return FileResponse(path, media_type="audio/mpeg", headers={"cache-control": "no-cache"})
