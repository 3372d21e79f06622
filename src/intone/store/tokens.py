"""Single-use tokens in the database: each redeemable once, until it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete

from intone.accounts.secrets import TOKEN_PREFIX, hash_secret, new_secret
from intone.store.tables import SingleUseTokenRow
from intone.store.writing import writer


class Tokens:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def issue(self, key_id: str, token_type: str, ttl: timedelta) -> str:
        token = new_secret(TOKEN_PREFIX)
        now = datetime.now(UTC)
        with writer(self._engine).begin() as conn:
            # Spent tokens are deleted when redeemed; expired ones unredeemed go here.
            conn.execute(delete(SingleUseTokenRow).where(SingleUseTokenRow.expires_at < now))
            conn.execute(
                SingleUseTokenRow.__table__.insert().values(
                    token_hash=hash_secret(token), key_id=key_id, token_type=token_type, expires_at=now + ttl
                )
            )
        return token

    def redeem(self, token: str) -> tuple[str, str] | None:
        """(key id, token type) for a live token, which is spent by this call; None otherwise.

        Deleting and reading back in one statement means two redeemers racing for one token cannot both win.
        """
        stmt = (
            delete(SingleUseTokenRow)
            .where(SingleUseTokenRow.token_hash == hash_secret(token))
            .returning(SingleUseTokenRow.key_id, SingleUseTokenRow.token_type, SingleUseTokenRow.expires_at)
        )
        with writer(self._engine).begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        return (row.key_id, row.token_type) if expires > datetime.now(UTC) else None
