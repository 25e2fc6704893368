"""OIDC bearer JWTs: signature checked with PyJWT against the provider's JWKS, plus issuer,
audience and expiry; the role comes from a claim, the limits (RPM, TPM, token budget, each
subject on its own) from the role or from the value of another claim."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, cast, get_args

from nova.config import OidcSettings
from nova.errors import MissingDependencyError
from nova.gateway._keys import Principal
from nova.store import KeyRole

__all__ = ["OidcVerifier"]

_ROLES: tuple[str, ...] = get_args(KeyRole)
_MAX_SUB = 195
"""Longest ``sub`` kept as it is (``oidc:`` + it fits the store's 200 characters); OIDC allows
255, so a longer one is replaced by its SHA-256."""


class OidcVerifier:
    """Validates JWTs for one issuer. The JWKS is fetched in a worker thread (PyJWT's client
    is blocking) and cached by PyJWT; an unknown ``kid`` triggers one re-fetch."""

    def __init__(self, settings: OidcSettings) -> None:
        try:
            import jwt
        except ModuleNotFoundError as exc:  # pragma: no cover - PyJWT is a core dependency
            raise MissingDependencyError(
                "OIDC bearer tokens", "gateway", exc.name or "jwt"
            ) from None
        self.settings = settings
        self._jwt = jwt
        self._client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)

    async def verify(self, token: str) -> Principal | None:
        """The principal of a valid token with a known role; None for any invalid token."""
        jwt = self._jwt
        try:
            key = await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=self.settings.algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, OSError):
            return None
        raw = claims.get(self.settings.role_claim)
        roles = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        # The most privileged role the token names (admin > auditor > app).
        role = next((r for r in reversed(_ROLES) if r in roles), None)
        if role is None:
            return None
        models: frozenset[str] | None = None
        if self.settings.models_claim:
            allowed = claims.get(self.settings.models_claim)
            models = (
                frozenset(str(m) for m in allowed) if isinstance(allowed, list) else frozenset()
            )
        limits = self.settings.limits_for(role, claims)
        sub = str(claims["sub"])
        if len(sub) > _MAX_SUB:  # the store keeps subjects (audit actor, counters) in 200
            sub = "sha256:" + hashlib.sha256(sub.encode("utf-8")).hexdigest()
        return Principal(
            subject=f"oidc:{sub}",
            role=cast(KeyRole, role),
            models=models,
            rpm=limits.rpm if limits else None,
            tpm=limits.tpm if limits else None,
            budget_tokens=limits.budget_tokens if limits else None,
        )
