"""Freed C-heap memory given back to the system, where the C library can (glibc's malloc_trim).

glibc gives its heap back only from the top: blocks freed below one still in use stay in the
process. A step that makes and drops many mid-sized Python objects (the transcript view's answers
and their JSON, 1-3 KB each: too large for Python's own small-object pools) leaves tens of MB
there, which the next step's peak then sits on. Elsewhere (musl, macOS, Windows) nothing is done.
"""

import ctypes
import sys

__all__ = ["give_back"]


def _trim() -> object:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _trim()


def give_back() -> bool:
    """Return the heap's free pages to the system; whether the C library could."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
