"""Model backends, found by the name the user types as `model.api`.

Built-in providers: `openrouter` (OpenRouter or any OpenAI-compatible server) and `mock`.
Every call, whoever makes it, goes through `sycobench.providers.client.ModelClient`.
"""

from __future__ import annotations

from sycobench.providers import mock, openrouter  # noqa: F401 - registers the built-in providers
from sycobench.providers.base import PROVIDERS, Completion, Message, Provider, ProviderContext, register_provider

__all__ = ["PROVIDERS", "Completion", "Message", "Provider", "ProviderContext", "register_provider"]
