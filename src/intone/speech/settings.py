"""Voice settings: the documented defaults, and how stored and per-request settings combine.

A request's `voice_settings` override the voice's stored settings field by field, which override the
defaults. Only `speed` and `stability` change the sound here; the others are kept and reported so that
clients reading them back see what they wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

FIELDS = ("stability", "similarity_boost", "style", "use_speaker_boost", "speed")


@dataclass(frozen=True)
class VoiceSettingValues:
    stability: float = 0.5
    similarity_boost: float = 0.75
    style: float = 0.0
    use_speaker_boost: bool = True
    speed: float = 1.0

    def as_dict(self) -> dict[str, float | bool]:
        return asdict(self)


DEFAULTS = VoiceSettingValues()


def combine(*layers: Mapping[str, float | bool | None] | None) -> VoiceSettingValues:
    """Starts from the defaults and applies each layer's set (non-None) fields, later layers winning."""
    values = DEFAULTS
    for layer in layers:
        if layer:
            values = replace(values, **{k: v for k, v in layer.items() if k in FIELDS and v is not None})
    return values
