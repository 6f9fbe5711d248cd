"""`python -m sycobench.fake_openrouter`: run the fake until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from sycobench.fake_openrouter.faults import FAULTS, FORMAT_REFUSALS, QUICK_FAULTS
from sycobench.fake_openrouter.replies import JUDGE_MODES
from sycobench.fake_openrouter.server import FakeOptions, make_app, start_site

__all__ = ["main", "parse_options"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sycobench.fake_openrouter",
        description="A loopback fake of the OpenRouter chat API that can reproduce its failures.",
        epilog=f"faults: {', '.join(FAULTS)}. quick set (used by --fault-rate alone): {', '.join(QUICK_FAULTS)}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=None,
                        help="chance per request of a fault (default 0, or 0.1 with --faults)")
    parser.add_argument("--faults", default="", help="comma-separated fault names to draw from")
    parser.add_argument("--rpm", type=int, default=None, help="accepted requests per sliding window")
    parser.add_argument("--rpm-window-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-mode", default="json", choices=JUDGE_MODES)
    parser.add_argument("--sycophancy", type=float, default=0.5)
    parser.add_argument("--caving", type=float, default=0.0,
                        help="how far an answer given after the asker's objection moves toward the objector")
    parser.add_argument("--scenario", default="rent", help="what answers are about: a shipped scenario or a scenario YAML file")
    parser.add_argument("--retry-after-s", type=float, default=1.0)
    parser.add_argument("--trickle-s", type=float, default=30.0)
    parser.add_argument("--refuse-format", default=None, choices=FORMAT_REFUSALS,
                        help="refuse this response_format: json_schema as llama.cpp's server does (HTTP 500), "
                             "or any (HTTP 400)")
    return parser


def parse_options(argv: list[str] | None = None) -> FakeOptions:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return FakeOptions(**vars(args))
    except ValueError as exc:
        parser.error(str(exc))


async def _serve(options: FakeOptions) -> None:
    runner, root_url = await start_site(make_app(options), host=options.host, port=options.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"fake-openrouter listening on {root_url}/api/v1", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    options = parse_options(argv)
    try:
        asyncio.run(_serve(options))
    except OSError as exc:  # e.g. the port is taken
        sys.exit(f"fake-openrouter: cannot listen on {options.host}:{options.port}: {exc}")


if __name__ == "__main__":
    main()
