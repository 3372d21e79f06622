"""What every request handler can reach: settings, the synthesizer, the store, tokens and admission."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from fastapi import Request

from intone.admission.admission import Admission
from intone.api.schemas import VoiceSettings
from intone.config import Settings
from intone.previews import Previews
from intone.speech.settings import VoiceSettingValues, combine
from intone.speech.synthesizer import Synthesizer
from intone.speech.voices import Voice, get_voice
from intone.store.database import Store


class TokenStore(Protocol):
    """Single-use tokens: in the database, or in Redis when replicas share one."""

    def issue(self, key_id: str, token_type: str, ttl: timedelta) -> str: ...

    def redeem(self, token: str) -> tuple[str, str] | None: ...


@dataclass
class Services:
    settings: Settings
    synthesizer: Synthesizer
    store: Store
    admission: Admission
    tokens: TokenStore
    executor: ThreadPoolExecutor  # engine work; its size bounds engine concurrency in this process
    previews: Previews
    ready: threading.Event = field(default_factory=threading.Event)


def voice_and_settings(
    svc: Services, voice_id: str, requested: VoiceSettings | None
) -> tuple[Voice, VoiceSettingValues]:
    """The voice, and the settings a request speaks with: its own over the voice's stored ones.
    Blocking (a database read): call it from a thread."""
    voice = get_voice(voice_id)
    stored = svc.store.voice_settings.get(voice.voice_id)
    return voice, combine(stored, requested.model_dump() if requested else None)


def services(request: Request) -> Services:
    return request.app.state.services
