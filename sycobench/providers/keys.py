"""API keys: read from the environment or a local `.env`, and never shown anywhere."""

from __future__ import annotations

import os
from pathlib import Path

from sycobench.errors import ConfigError

__all__ = ["load_api_key", "redact"]

_REDACTED = "[REDACTED]"


def _read_dotenv(path: Path) -> dict[str, str]:
    """`KEY=value` lines; `export ` prefixes, quotes and `#` comments are allowed."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[name.strip()] = value
    return values


def load_api_key(env_name: str) -> str:
    key = os.environ.get(env_name, "").strip()
    if key:
        return key
    dotenv = Path.cwd() / ".env"
    if dotenv.is_file():
        key = _read_dotenv(dotenv).get(env_name, "").strip()
        if key:
            return key
    raise ConfigError(
        f"{env_name} is not set: export {env_name}=... or put {env_name}=... in a .env file "
        "in the working directory."
    )


def redact(text: str, secret: str | None) -> str:
    """Defence in depth: scrub a key from text that came from elsewhere (e.g. a server echo)."""
    if not secret:
        return text
    return text.replace(secret, _REDACTED)
