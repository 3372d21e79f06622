"""Plans (tiers): how many requests a key may have in flight per concurrency group, and its priority.

The numbers are ElevenLabs' plan table. Enterprise is "elevated" there; here it is twice Scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from intone.speech.models import ConcurrencyGroup


@dataclass(frozen=True)
class Tier:
    name: str
    multilingual: int  # concurrent requests on the Multilingual v2 group (Kokoro here)
    flash: int  # ... on the Flash/Turbo group (Piper here)
    priority: int  # higher goes first when requests wait for the server
    speech_to_text: int  # concurrent transcriptions

    def limit(self, group: ConcurrencyGroup) -> int:
        if group is ConcurrencyGroup.SPEECH_TO_TEXT:
            return self.speech_to_text
        return self.flash if group is ConcurrencyGroup.TURBO else self.multilingual


TIERS = {
    tier.name: tier
    for tier in (
        Tier("free", 2, 4, 3, 8),
        Tier("starter", 3, 6, 4, 12),
        Tier("creator", 5, 10, 5, 20),
        Tier("pro", 10, 20, 5, 40),
        Tier("scale", 15, 30, 5, 60),
        Tier("business", 15, 30, 5, 60),
        Tier("enterprise", 30, 60, 6, 120),
    )
}
DEFAULT_TIER = "pro"


def get_tier(name: str) -> Tier:
    """Raises ValueError for an unknown tier, listing the known ones."""
    try:
        return TIERS[name]
    except KeyError:
        raise ValueError(f"unknown tier {name!r}; known: {', '.join(TIERS)}") from None
