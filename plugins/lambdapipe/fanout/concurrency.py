"""Adaptive concurrency: back off when Lambda throttles, climb back while it does not (AIMD)."""

from __future__ import annotations

import asyncio
import math
import time


class AdaptiveLimiter:
    """At most ``limit`` holders at once; ``limit`` halves on a throttle and grows by one per success window.

    Halving happens at most once per ``cooldown_s`` so a burst of 429s from one overload counts once.
    """

    def __init__(self, max_concurrency: int, cooldown_s: float = 1.0) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1 (got {max_concurrency})")
        self.max_concurrency = max_concurrency
        self.limit = float(max_concurrency)
        self.cooldown_s = cooldown_s
        self.in_flight = 0
        self.peak = 0
        self.decreases = 0
        self._last_decrease = -math.inf  # the first throttle always counts, whatever the clock reads
        self._condition = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._condition:
            await self._condition.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    async def release(self, throttled: bool = False) -> None:
        async with self._condition:
            self.in_flight -= 1
            now = time.monotonic()
            if throttled:
                if now - self._last_decrease >= self.cooldown_s:
                    self.limit = max(1.0, self.limit / 2)
                    self._last_decrease = now
                    self.decreases += 1
            elif self.limit < self.max_concurrency:
                self.limit = min(float(self.max_concurrency), self.limit + 1 / self.limit)
            self._condition.notify_all()
