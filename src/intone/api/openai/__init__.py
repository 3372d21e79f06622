"""The OpenAI-compatible routes: a thin adapter from OpenAI's audio API shapes to Intone's speech pipeline,
with OpenAI's error shape and bearer credentials on its own routes only (docs/openai.md)."""
