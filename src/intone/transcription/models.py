"""The speech-to-text model ids and what runs them here.

ElevenLabs' batch ids `scribe_v1` and `scribe_v2` both run multilingual Whisper base: the only
recognition model that ships inside a registry package good enough for the job. `scribe_v2_realtime`
is the realtime socket's model, not the batch endpoint's.
"""

from __future__ import annotations

from intone.speech.errors import ModelNotFound

BATCH_MODELS = ("scribe_v1", "scribe_v2")
REALTIME_MODEL = "scribe_v2_realtime"


def check_batch_model(model_id: str) -> None:
    """Raises ModelNotFound for an id the batch endpoint does not run."""
    if model_id in BATCH_MODELS:
        return
    if model_id == REALTIME_MODEL:
        raise ModelNotFound(
            f"{REALTIME_MODEL} transcribes on the realtime socket (/v1/speech-to-text/realtime); "
            f"files take {' or '.join(BATCH_MODELS)}."
        )
    raise ModelNotFound(
        f"A model with model ID {model_id} does not transcribe speech. Use {' or '.join(BATCH_MODELS)}."
    )
