"""What every request handler can reach: settings, the synthesizer, the store and the limits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fastapi import Request

from intone.admission.limiter import Limiter
from intone.config import Settings
from intone.speech.synthesizer import Synthesizer
from intone.store.database import Store

USAGE_SUBJECT = "local"  # one account until API keys arrive; usage is still counted and persisted


@dataclass
class Services:
    settings: Settings
    synthesizer: Synthesizer
    store: Store
    limiter: Limiter
    executor: ThreadPoolExecutor  # engine work; its size bounds engine concurrency in this process
    ready: threading.Event = field(default_factory=threading.Event)


def services(request: Request) -> Services:
    return request.app.state.services
