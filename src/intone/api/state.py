"""What every request handler can reach: settings, the synthesizer, the store, tokens and admission."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from fastapi import Request

from intone.accounts.caller import Caller
from intone.admission.admission import Admission
from intone.api.schemas import VoiceSettings
from intone.cluster.health import RedisHealth
from intone.config import Settings
from intone.previews import Previews
from intone.scheduling.playback import Playback
from intone.scheduling.scheduler import BACKGROUND, Job, Scheduler
from intone.speech.settings import VoiceSettingValues, combine
from intone.speech.synthesizer import Plan, Synthesizer
from intone.speech.voices import Voice, get_voice
from intone.store.database import Store
from intone.transcription.transcriber import Transcriber

log = logging.getLogger("intone.api")


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
    scheduler: Scheduler  # all engine work of this process, by playback deadline and priority
    previews: Previews
    transcriber: Transcriber
    redis: RedisHealth | None = None  # set when replicas share Redis: /ready asks it
    ready: threading.Event = field(default_factory=threading.Event)
    _calibrating: set[tuple[str, str, str]] = field(default_factory=set)

    def job(self, priority: int, live: bool) -> Job:
        """A request's engine work: `live` for audio a listener hears as it comes (streams, sockets)."""
        return Job(self.scheduler, priority, Playback(live=live))

    def calibrate_soon(self, plan: Plan) -> None:
        """Queues, as background work, what lets the plan's voice decode in windows, once per voice;
        until it is done the voice's audio is decoded whole."""
        work = self.synthesizer.calibration(plan)
        key = (plan.engine, plan.voice.voice_id, plan.language)
        if work is None or key in self._calibrating:
            return
        self._calibrating.add(key)
        done = self.scheduler.submit(work, deadline=BACKGROUND)

        def finished(future: Future[None]) -> None:
            self._calibrating.discard(key)
            if not future.cancelled() and future.exception() is not None:
                log.error(
                    "calibrating voice %s for windowed decoding failed", key[1], exc_info=future.exception()
                )

        done.add_done_callback(finished)


def voice_and_settings(
    svc: Services, caller: Caller, voice_id: str, requested: VoiceSettings | None
) -> tuple[Voice, VoiceSettingValues]:
    """The voice, and the settings the caller's request speaks with: its own over those the caller's account
    stored for the voice (another account's edits never apply). Blocking (a database read): call it from
    a thread."""
    voice = get_voice(voice_id)
    stored = svc.store.voice_settings.get(caller.subject, voice.voice_id)
    return voice, combine(stored, requested.model_dump() if requested else None)


def services(request: Request) -> Services:
    return request.app.state.services
