"""Persistent state: per-voice settings and character usage, kept in SQL with Alembic migrations."""
