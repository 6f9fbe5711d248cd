"""A loopback stand-in for OpenRouter: the real wire format, its failures on demand, and counters."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sycobench.errors import ConfigError
from sycobench.fake_openrouter.faults import (
    FAULTS,
    FORMAT_REFUSALS,
    QUICK_FAULTS,
    FaultContext,
    error_response,
    format_refusal,
    rate_limited,
    send_fault,
)
from sycobench.fake_openrouter.replies import (
    JUDGE_MODES,
    count_tokens,
    find_judged_answer,
    judge_reply,
    load_scenario,
    message_text,
    models_payload,
    write_advice,
)

__all__ = ["FakeOptions", "FakeServer", "check_loopback", "make_app", "serve_in_thread", "start_site"]

_DEFAULT_LISTED_RATE = 0.1


def check_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to listen on {host!r}: the fake OpenRouter server is a test tool "
                         "and binds only loopback addresses such as 127.0.0.1 or ::1")


def _check_names(names: list[str | None], known: tuple[str, ...], what: str) -> None:
    unknown = sorted({name for name in names if name is not None} - set(known))
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}; known: {', '.join(known)}")


@dataclass(slots=True)
class FakeOptions:
    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    fault_rate: float | None = None
    faults: tuple[str, ...] = ()
    rpm: int | None = None
    rpm_window_s: float = 60.0
    seed: int = 0
    judge_mode: str = "json"
    sycophancy: float = 0.5
    caving: float = 0.0  # a second answer, after an objection, moves this far toward the objector
    retry_after_s: float = 1.0
    trickle_s: float = 30.0
    refuse_format: str | None = None
    scenario: str = "rent"  # what the answers and the judge are about: a shipped scenario or a YAML path
    # model id -> factor its judge ratings are multiplied by (clipped to [-1, 1]): judges that disagree knowably
    judge_scale: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.host == "localhost":  # one address, so port 0 means one port
            self.host = "127.0.0.1"
        check_loopback(self.host)
        if isinstance(self.faults, str):
            self.faults = tuple(name.strip() for name in self.faults.split(",") if name.strip())
        self.faults = tuple(self.faults)
        _check_names(list(self.faults), FAULTS, "fault")
        _check_names([self.judge_mode], JUDGE_MODES, "judge mode")
        _check_names([self.refuse_format], FORMAT_REFUSALS, "refused format")
        if self.fault_rate is not None and not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError(f"fault_rate must lie in [0, 1], got {self.fault_rate}")
        if not 0.0 <= self.caving <= 1.0:
            raise ValueError(f"caving must lie in [0, 1], got {self.caving}")
        if self.rpm is not None and self.rpm < 1:
            raise ValueError(f"rpm must be a positive integer, got {self.rpm}")
        try:
            load_scenario(self.scenario)
        except ConfigError as exc:
            raise ValueError(str(exc).splitlines()[0]) from None

    def fault_pool(self) -> tuple[tuple[str, ...], float]:
        """Named faults at the given rate (default 0.1), else the quick transient set."""
        if self.faults:
            return self.faults, _DEFAULT_LISTED_RATE if self.fault_rate is None else self.fault_rate
        return QUICK_FAULTS, self.fault_rate or 0.0


class _State:
    """Everything one fake remembers; touched only from its event loop, so it needs no lock."""

    def __init__(self, options: FakeOptions) -> None:
        self.options = options
        self.reset()

    def reset(self) -> None:
        self._draws = random.Random(self.options.seed)
        self._jitter = random.Random(f"jitter-{self.options.seed}")
        self._scripted_faults: deque[str | None] = deque()
        self._scripted_modes: deque[str | None] = deque()
        self._window: deque[float] = deque()
        self.requests = 0
        self.by_model: Counter[str] = Counter()
        self.by_outcome: Counter[str] = Counter()
        self.judge_requests = 0
        self.timestamps: list[float] = []
        self.ok_timestamps: list[float] = []
        self.usage_usd = 0.0
        self.in_flight = 0
        self.max_in_flight = 0

    def configure(self, **changes: Any) -> None:
        if {"host", "port"} & changes.keys():
            raise ValueError("host and port are fixed once the server is listening")
        self.options = dataclasses.replace(self.options, **changes)
        if "seed" in changes:
            self._draws = random.Random(self.options.seed)
            self._jitter = random.Random(f"jitter-{self.options.seed}")

    def script(self, faults: list[str | None], judge_modes: list[str | None] | None = None) -> None:
        _check_names(faults, FAULTS, "fault")
        _check_names(judge_modes or [], JUDGE_MODES, "judge mode")
        self._scripted_faults.extend(faults)
        self._scripted_modes.extend(judge_modes or [])

    def arrive(self, now: float) -> str | None:
        """Count a chat request and pick its fault: a scripted entry wins over the random draw."""
        self.requests += 1
        self.timestamps.append(now)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        pool, rate = self.options.fault_pool()
        drawn = self._draws.choice(pool) if rate > 0 and self._draws.random() < rate else None
        return self._scripted_faults.popleft() if self._scripted_faults else drawn

    def judge_mode(self) -> str:
        self.judge_requests += 1
        scripted = self._scripted_modes.popleft() if self._scripted_modes else None
        return scripted or self.options.judge_mode

    def admit(self, now: float) -> int | None:
        """None when the sliding window has room, else the epoch ms at which it frees up."""
        if self.options.rpm is None:
            return None
        span = self.options.rpm_window_s
        while self._window and self._window[0] <= now - span:
            self._window.popleft()
        if len(self._window) >= self.options.rpm:
            return int((self._window[0] + span) * 1000)
        self._window.append(now)
        return None

    def latency_s(self) -> float:
        jitter = self.options.latency_jitter_ms
        spread = self._jitter.uniform(-jitter, jitter) if jitter else 0.0
        return max(0.0, self.options.latency_ms + spread) / 1000

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_model": dict(self.by_model),
            "by_outcome": dict(self.by_outcome),
            "judge_requests": self.judge_requests,
            "timestamps": list(self.timestamps),
            "ok_timestamps": sorted(self.ok_timestamps),
            "usage_usd": self.usage_usd,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


_STATE = web.AppKey("fake_openrouter_state", _State)


def _json(payload: dict[str, Any] | bytes, status: int = 200) -> web.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _denied(request: web.Request) -> web.Response | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return error_response(401, "No auth credentials found")
    if "bad" in key:
        return error_response(401, "User not found.")
    return None


def _parse_chat(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """The request body, plus a 400 message when it is not a usable chat request."""
    try:
        body = json.loads(raw)
    except ValueError:
        return {}, "Invalid JSON in request body"
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        return {}, 'Input required: specify "model"'
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return {}, 'Input required: specify "prompt" or "messages"'
    return body, None


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    arrived = time.time()
    fault = state.arrive(arrived)
    try:
        return await _answer(request, state, arrived, fault)
    finally:
        state.in_flight -= 1


async def _answer(request: web.Request, state: _State, arrived: float, fault: str | None) -> web.StreamResponse:
    if (denied := _denied(request)) is not None:
        state.by_outcome["401"] += 1
        return denied
    body, problem = _parse_chat(await request.read())
    if problem is not None:
        state.by_outcome["400"] += 1
        return error_response(400, problem)
    model, messages, options = body["model"], body["messages"], state.options
    state.by_model[model] += 1
    if (refusal := format_refusal(body.get("response_format"), options.refuse_format)) is not None:
        state.by_outcome[f"{refusal.status}_format"] += 1
        return refusal
    judged = find_judged_answer(messages)
    mode, turn = (state.judge_mode(), state.judge_requests - 1) if judged is not None else ("", 0)
    if (reset_ms := state.admit(time.time())) is not None:
        state.by_outcome["429_rpm"] += 1
        return rate_limited(limit=options.rpm or 0, reset_ms=reset_ms, window="free-models-per-min")
    if (delay := state.latency_s()) > 0:
        await asyncio.sleep(delay)

    def answer() -> str:
        if judged is not None:
            return judge_reply(messages, judged, mode=mode, turn=turn, scenario=options.scenario,
                               scale=options.judge_scale.get(model, 1.0))
        return write_advice(messages, model=model, request_seed=body.get("seed"),
                            server_seed=options.seed, sycophancy=options.sycophancy, scenario=options.scenario,
                            caving=options.caving)

    prompt = "\n".join(message_text(m) for m in messages)
    max_tokens = body.get("max_tokens")
    ctx = FaultContext(
        model=model, prompt=prompt, prompt_tokens=count_tokens(prompt),
        max_tokens=max_tokens if type(max_tokens) is int and max_tokens > 0 else None,
        answer=answer, retry_after_s=options.retry_after_s, trickle_s=options.trickle_s,
        key=request.headers.get("Authorization", "").removeprefix("Bearer "),
    )
    if fault is not None:
        state.by_outcome[fault] += 1
        return await send_fault(fault, request, ctx)
    payload = ctx.success(answer())
    state.by_outcome["ok"] += 1
    state.ok_timestamps.append(arrived)
    state.usage_usd += payload["usage"]["cost"]
    return _json(payload)


async def _models(request: web.Request) -> web.Response:
    return _json(models_payload())


async def _key(request: web.Request) -> web.Response:
    if (denied := _denied(request)) is not None:
        return denied
    state = request.app[_STATE]
    key = request.headers["Authorization"].partition(" ")[2].strip()
    return _json({"data": {
        "label": f"{key[:10]}...{key[-3:]}",
        "limit": None,
        "usage": state.usage_usd,
        "limit_remaining": None,
        "is_free_tier": False,
        "rate_limit": {"requests": state.options.rpm or -1, "interval": f"{state.options.rpm_window_s:g}s"},
    }})


async def _control(request: web.Request) -> web.Response:
    """The `/_fake/*` endpoints, for driving a fake that runs in another process."""
    state, action = request.app[_STATE], request.match_info["action"]
    if action == "stats":
        return _json(state.stats())
    try:
        payload = await request.json() if request.can_read_body else {}
        if action == "script":
            state.script(payload.get("faults") or [], payload.get("judge_modes"))
        elif action == "configure":
            state.configure(**payload)
        else:
            state.reset()
    except (TypeError, ValueError, AttributeError) as exc:
        return error_response(400, f"bad {action} request: {exc}")
    return _json({"ok": True, "options": dataclasses.asdict(state.options)})


def make_app(options: FakeOptions) -> web.Application:
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[_STATE] = _State(options)
    app.router.add_post("/api/v1/chat/completions", _chat)
    app.router.add_get("/api/v1/models", _models)
    app.router.add_get("/api/v1/key", _key)
    app.router.add_get("/_fake/{action:stats}", _control)
    app.router.add_post("/_fake/{action:script|configure|reset}", _control)
    return app


async def start_site(app: web.Application, *, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Bind and serve `app`; returns the runner (to clean up) and the root URL actually bound."""
    check_loopback(host)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_port = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound_port}"


class FakeServer:
    """A fake on its own event-loop thread; the helpers run on that loop, so they are thread-safe."""

    def __init__(self, options: FakeOptions) -> None:
        self._app = make_app(options)
        self._state = self._app[_STATE]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.root_url = ""
        self._thread = threading.Thread(target=self._serve, name="fake-openrouter", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        options = self._state.options
        try:
            runner, self.root_url = self._loop.run_until_complete(
                start_site(self._app, host=options.host, port=options.port))
        except BaseException as exc:  # handed to the constructor, which re-raises it
            self._failure = exc
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/api/v1"

    @property
    def options(self) -> FakeOptions:
        return self._state.options

    def _on_loop(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            return method(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=10)

    def stats(self) -> dict[str, Any]:
        return self._on_loop(self._state.stats)

    def script(self, faults: list[str | None], judge_modes: list[str | None] | None = None) -> None:
        self._on_loop(self._state.script, faults, judge_modes)

    def configure(self, **options: Any) -> None:
        self._on_loop(self._state.configure, **options)

    def reset(self) -> None:
        self._on_loop(self._state.reset)

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_in_thread(**options: Any) -> FakeServer:
    """Start a fake (default: 127.0.0.1, a free port); use it as a context manager to stop it."""
    return FakeServer(FakeOptions(**options))
