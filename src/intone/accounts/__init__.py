"""Who is calling and what they may do: API keys, scopes, tiers and single-use tokens."""
