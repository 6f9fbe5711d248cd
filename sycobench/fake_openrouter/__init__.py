"""A loopback fake of OpenRouter that reproduces its success shape and every known failure."""

from sycobench.fake_openrouter.faults import FAULTS, QUICK_FAULTS
from sycobench.fake_openrouter.server import FakeOptions, FakeServer, make_app, serve_in_thread

__all__ = ["FAULTS", "QUICK_FAULTS", "FakeOptions", "FakeServer", "make_app", "serve_in_thread"]
