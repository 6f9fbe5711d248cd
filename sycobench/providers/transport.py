"""An httpx transport that sends over aiohttp's connection pool.

httpcore's pool (httpx's default transport) rescans every pooled connection, several times,
whenever a request starts or ends, so its CPU cost per request grows with the square of the
concurrency: at 64 calls in flight it costs ~10 ms a call and caps a job near 80 calls/s on
two cores. aiohttp's pool hands out connections in constant time. Everything above the wire
(request building, status handling, the error classes in openrouter.py) stays httpx's.
"""

from __future__ import annotations

import asyncio
import urllib.request
import zlib

import aiohttp
import httpx

from sycobench.providers.base import BodyTooLarge

__all__ = ["AIOHTTP_ERRORS", "AiohttpTransport", "map_aiohttp_error"]

#: aiohttp's failures in httpx's terms, mapped once; the first matching row wins, so the more
#: specific classes come first (aiohttp's connect and read timeouts are also TimeoutErrors).
AIOHTTP_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (asyncio.TimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientError, httpx.NetworkError),
)
_CAUGHT = tuple(kind for kind, _ in AIOHTTP_ERRORS)


def map_aiohttp_error(exc: BaseException) -> type[httpx.TransportError]:
    return next(target for kind, target in AIOHTTP_ERRORS if isinstance(exc, kind))


class AiohttpTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncClient(transport=AiohttpTransport(max_connections=N))`; bodies are read whole."""

    def __init__(self, *, max_connections: int, max_body_bytes: int = 32 << 20) -> None:
        self._max_connections = max_connections
        self._max_body = max_body_bytes
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:  # created on first use, inside the running event loop
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=self._max_connections)
            # httpx decodes the body (and raises DecodingError) itself. No trust_env: aiohttp would
            # then read the proxy settings and ~/.netrc on every request (+0.6 ms a call).
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                                  skip_auto_headers=("User-Agent", "Accept-Encoding"))
        return self._session

    def _proxy(self, url: httpx.URL) -> str | None:
        """The environment's proxy for this origin (HTTP(S)_PROXY, NO_PROXY), as httpx would use it;
        looked up once per origin."""
        origin = (url.scheme, url.host)
        if origin not in self._proxies:
            bypass = urllib.request.proxy_bypass(url.host)
            self._proxies[origin] = None if bypass else urllib.request.getproxies().get(url.scheme)
        return self._proxies[origin]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limits = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(total=None, connect=limits.get("connect"), sock_read=limits.get("read"))
        try:
            async with self._open().request(
                request.method, str(request.url), headers=list(request.headers.multi_items()),
                data=await request.aread(), allow_redirects=False, timeout=timeout, proxy=self._proxy(request.url),
            ) as response:
                body = await self._read(response, request)
                headers = [(name, value) for name, value in response.raw_headers]
        except _CAUGHT as exc:
            raise map_aiohttp_error(exc)(str(exc) or type(exc).__name__, request=request) from exc
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):  # inflated here, within the limit; httpx gets it plain
            body = self._inflate(body, request)
            headers = [(n, v) for n, v in headers if n.lower() not in (b"content-encoding", b"content-length")]
        return httpx.Response(response.status, headers=headers, content=body, request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    def _too_large(self, request: httpx.Request, what: str) -> BodyTooLarge:
        return BodyTooLarge(f"the response body is larger than {self._max_body / (1 << 20):g} MB {what} "
                            "(rate_limit.max_response_mb)", request=request)

    async def _read(self, response: aiohttp.ClientResponse, request: httpx.Request) -> bytes:
        """The body a block at a time, never more than the limit: an endless body is cut off at it."""
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self._max_body:
                raise self._too_large(request, "as sent")
            chunks.append(chunk)
        return b"".join(chunks)

    def _inflate(self, body: bytes, request: httpx.Request) -> bytes:
        inflater = zlib.decompressobj(47)  # gzip or zlib, by its header
        try:
            out = inflater.decompress(body, self._max_body + 1)
            if len(out) > self._max_body or inflater.unconsumed_tail:
                raise self._too_large(request, "once decompressed")
            return out + inflater.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"the compressed body cannot be read: {exc}", request=request) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
