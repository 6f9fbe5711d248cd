"""API keys: read from the environment or a local `.env`, and never shown anywhere."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sycobench.errors import ConfigError

__all__ = ["load_api_key", "redact", "refuse_keys_in_overrides"]

_REDACTED = "[REDACTED]"
# What a provider key looks like (OpenRouter sk-or-v1-..., OpenAI sk-..., Anthropic sk-ant-...).
_KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")
_WHERE = "keys go in the environment or a .env file in the working directory (OPENROUTER_API_KEY=...)"


def _read_dotenv(path: Path) -> dict[str, str | None]:
    """python-dotenv's reading: quotes, inline comments and `export` as a shell would take them."""
    from dotenv import dotenv_values

    try:
        return dict(dotenv_values(path, encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or type(exc).__name__)
        raise ConfigError(f"{path}: cannot read this .env file ({reason}); fix or remove it") from None


def load_api_key(env_name: str) -> str:
    key = os.environ.get(env_name, "").strip()
    source = f"the environment variable {env_name}"
    if not key:
        dotenv = Path.cwd() / ".env"
        if dotenv.exists():
            key = (_read_dotenv(dotenv).get(env_name) or "").strip()
            source = f"{env_name} in {dotenv}"
    if not key:
        raise ConfigError(
            f"{env_name} is not set: export {env_name}=... or put {env_name}=... in a .env file "
            "in the working directory."
        )
    if not key.isascii():  # an HTTP header cannot carry it; usually a pasted typographic dash
        raise ConfigError(f"{source} holds non-ASCII characters a key cannot have; copy the key again")
    return key


def redact(text: str, secret: str | None) -> str:
    """Defence in depth: scrub a key from text that came from elsewhere (e.g. a server echo).

    Call it on the whole text before any truncation, so no fragment of the key survives."""
    if secret:
        text = text.replace(secret, _REDACTED)
    return _KEY_SHAPE.sub(_REDACTED, text)


def refuse_keys_in_overrides(overrides: list[str]) -> None:
    """A key typed on the command line would be saved in config.yaml and .hydra/: refuse it."""
    for item in overrides:
        name, sep, value = item.partition("=")
        name = name.lstrip("+~")
        if not sep:
            continue
        leaf = name.rsplit(".", 1)[-1].lower()
        if leaf in ("id", "label") and "${" in value:
            raise ConfigError(f"{name}: an interpolation in a model id would be resolved (e.g. into an API key); "
                              "give the model's id as plain text (org/slug)")
        if _KEY_SHAPE.search(value) or leaf in ("api_key", "key", "token", "secret"):
            raise ConfigError(f"{name}: an API key does not belong on the command line; {_WHERE}, "
                              "and model.api_key_env names that variable")
