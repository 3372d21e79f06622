"""GET /v1/models: every model id, with what it really does and speaks on this server."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from intone.accounts.scopes import Scope
from intone.api.auth import require
from intone.api.errors import documented
from intone.engines.registry import EngineSet
from intone.speech import languages
from intone.speech.models import MODELS, Model, spoken_languages

router = APIRouter(
    tags=["models"], responses=documented(401, 403), dependencies=[Depends(require(Scope.MODELS_READ))]
)


class LanguageResponse(BaseModel):
    language_id: str
    name: str


class ModelRates(BaseModel):
    character_cost_multiplier: float


class ModelResponse(BaseModel):
    model_id: str
    name: str
    can_be_finetuned: bool
    can_do_text_to_speech: bool
    can_do_voice_conversion: bool
    can_use_style: bool
    can_use_speaker_boost: bool
    serves_pro_voices: bool
    token_cost_factor: float
    description: str
    requires_alpha_access: bool
    max_characters_request_free_user: int
    max_characters_request_subscribed_user: int
    maximum_text_length_per_request: int
    languages: list[LanguageResponse]
    model_rates: ModelRates
    concurrency_group: str


def model_response(model: Model) -> ModelResponse:
    spoken = spoken_languages(model, EngineSet.languages())
    # Without plans every caller gets the model's full per-request limit.
    limit = model.character_limit if model.can_do_text_to_speech else 0
    return ModelResponse(
        model_id=model.model_id,
        name=model.name,
        can_be_finetuned=False,
        can_do_text_to_speech=model.can_do_text_to_speech,
        can_do_voice_conversion=False,  # listed for completeness; voice conversion is not served here
        can_use_style=False,  # accepted in voice_settings, but no engine here has a style control
        can_use_speaker_boost=False,
        serves_pro_voices=False,
        token_cost_factor=model.cost_multiplier,
        description=model.description,
        requires_alpha_access=False,
        max_characters_request_free_user=limit,
        max_characters_request_subscribed_user=limit,
        maximum_text_length_per_request=limit,
        languages=[LanguageResponse(language_id=code, name=languages.name(code)) for code in spoken],
        model_rates=ModelRates(character_cost_multiplier=model.cost_multiplier),
        concurrency_group=str(model.concurrency_group),
    )


@router.get("/v1/models", summary="List models")
async def list_models() -> list[ModelResponse]:
    return [model_response(model) for model in MODELS.values()]
