"""`run.max_cost_usd`: one spending cap for every call of a job, target answers and judge alike."""

from __future__ import annotations

import asyncio

__all__ = ["CostCap"]


class CostCap:
    """No call starts if it could push spending past the cap.

    A call's cost is estimated as the largest cost seen so far; until one paid call has
    finished, calls go one at a time, so the first estimate is never a guess.
    """

    def __init__(self, cap: float | None, *, spent: float = 0.0) -> None:
        self.cap = cap
        self.spent = spent
        self.estimate: float | None = None
        self.in_flight = 0
        self._changed = asyncio.Event()

    async def start(self) -> bool:
        """Reserve room for one call; False once the cap would be passed (stop starting calls)."""
        if self.cap is None:
            return True
        while True:
            fits = self.estimate is not None and self.spent + (self.in_flight + 1) * self.estimate <= self.cap
            first = self.estimate is None and self.in_flight == 0 and self.spent < self.cap
            if fits or first:
                self.in_flight += 1
                return True
            if self.in_flight == 0:
                return False
            self._changed.clear()
            await self._changed.wait()  # an in-flight call will finish and refine the estimate

    def finish(self, cost: float | None, *, paid: bool = True) -> None:
        if self.cap is None:
            return
        self.in_flight -= 1
        if paid:
            self.spent += cost or 0.0
            self.estimate = max(self.estimate or 0.0, cost or 0.0)
        self._changed.set()

    def describe(self) -> str:
        return (f"the next call could pass run.max_cost_usd=${self.cap:.4f} (spent ${self.spent:.4f}); "
                "raise the cap and resume to finish")
