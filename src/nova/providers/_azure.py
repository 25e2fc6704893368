"""Azure OpenAI: the OpenAI wire format with deployments, api-version and ``api-key`` or an
Entra ID bearer token."""

from __future__ import annotations

from nova.providers._base import register_provider
from nova.providers._errors import AuthError
from nova.providers._openai import OpenAIProvider

__all__ = ["AzureOpenAIProvider"]

_SCOPE = "https://cognitiveservices.azure.com/.default"


@register_provider("azure")
class AzureOpenAIProvider(OpenAIProvider):
    """``azure/<model>`` with provider.base_url (resource endpoint), deployment, api_version,
    and api_key; without a key, an Entra ID token from azure-identity (``nova[azure]``)."""

    _token: str | None = None

    def url(self) -> str:
        s = self.candidate.provider
        base = (s.base_url or "").rstrip("/")
        return (
            f"{base}/openai/deployments/{s.deployment}/chat/completions?api-version={s.api_version}"
        )

    def headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", **self.candidate.provider.headers}
        key = self.candidate.provider.api_key
        if key is not None and key.get_secret_value():
            h["api-key"] = key.get_secret_value()
        elif self._token:
            h["Authorization"] = f"Bearer {self._token}"
        return h

    def body_model(self) -> str:
        # Azure routes by deployment; the model field is informational.
        return self.model

    async def start(self) -> None:
        cid = self.candidate.id
        if not self.candidate.provider.base_url:
            raise AuthError(
                cid,
                "no Azure OpenAI endpoint: set the variable provider.base_url "
                "references (e.g. AZURE_OPENAI_ENDPOINT) to "
                "https://<resource>.openai.azure.com",
            )
        key = self.candidate.provider.api_key
        if (key is None or not key.get_secret_value()) and self._token is None:
            try:
                from azure.identity import (  # type: ignore[import-not-found]  # optional extra
                    DefaultAzureCredential,
                )
            except ModuleNotFoundError:
                raise AuthError(
                    cid,
                    "no API key: set the variable provider.api_key references "
                    "(e.g. AZURE_OPENAI_API_KEY), or pip install 'nova[azure]' to "
                    "sign in with Entra ID",
                ) from None
            self._token = DefaultAzureCredential().get_token(_SCOPE).token
        await super().start()
