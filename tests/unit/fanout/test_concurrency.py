"""The adaptive concurrency limiter on its own: admits up to its limit, halves on throttles, climbs back."""

from __future__ import annotations

import asyncio

from lambdapipe.fanout.concurrency import AdaptiveLimiter


def test_the_limiter_admits_no_more_than_its_limit_until_one_is_released() -> None:
    async def scenario() -> tuple[bool, bool]:
        limiter = AdaptiveLimiter(2)
        await limiter.acquire()
        await limiter.acquire()
        third = asyncio.create_task(limiter.acquire())
        for _ in range(5):
            await asyncio.sleep(0)
        blocked = not third.done()
        await limiter.release()
        await third
        return blocked, limiter.peak == 2

    assert asyncio.run(scenario()) == (True, True)


def test_the_limiter_halves_once_per_cooldown_never_below_one_and_climbs_back_additively() -> None:
    async def scenario() -> list[float]:
        limiter = AdaptiveLimiter(8, cooldown_s=3600)
        seen = []
        for _ in range(3):  # one overload: three 429s within the cooldown count once
            await limiter.acquire()
            await limiter.release(throttled=True)
        seen.append(limiter.limit)
        limiter.cooldown_s = 0
        for _ in range(5):
            await limiter.acquire()
            await limiter.release(throttled=True)
        seen.append(limiter.limit)
        await limiter.acquire()
        await limiter.release()
        seen.append(limiter.limit)
        for _ in range(100):
            await limiter.acquire()
            await limiter.release()
        seen.append(limiter.limit)
        return seen

    assert asyncio.run(scenario()) == [4.0, 1.0, 2.0, 8.0]
