"""The production transport: aiohttp's errors reach httpx (and so the error classes) through one table."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import httpx
import pytest

from sycobench.providers.openrouter import _HTTPX_CLASSES
from sycobench.providers.transport import AIOHTTP_ERRORS, AiohttpTransport, map_aiohttp_error


def _all_subclasses(root: type) -> set[type]:
    found, todo = set(), [root]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def test_every_aiohttp_client_error_is_mapped_to_an_httpx_error_we_classify() -> None:
    for kind in {aiohttp.ClientError, *_all_subclasses(aiohttp.ClientError)}:
        if not kind.__module__.startswith("aiohttp"):
            continue
        target = next(t for k, t in AIOHTTP_ERRORS if issubclass(kind, k))
        assert issubclass(target, httpx.TransportError), kind
        assert any(issubclass(target, ours) for ours, _ in _HTTPX_CLASSES), (kind, target)


@pytest.mark.parametrize(("error", "expected"), [
    (aiohttp.ConnectionTimeoutError(), httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError(), httpx.ReadTimeout),
    (asyncio.TimeoutError(), httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError("cut"), httpx.RemoteProtocolError),
    (aiohttp.ClientOSError(), httpx.NetworkError),
])
def test_specific_rows_win_over_general_ones(error, expected) -> None:
    assert map_aiohttp_error(error) is expected


def test_a_closed_port_is_a_connect_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, and nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def go() -> None:
        async with httpx.AsyncClient(transport=AiohttpTransport(max_connections=1)) as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(go())
