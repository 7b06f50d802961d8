"""The machine's speed beside a benchmark's figures, so figures from two machines can be compared.

``speed()`` times a fixed CPU-bound loop (pure Python: hashing and integer arithmetic, as the
client's botocore path and the local stack's request handling are) and reads the load average. A
figure is only comparable with another taken at a similar calibration time and load. Every benchmark
runs its ``main`` through ``reported``, so its output starts and ends with that line.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

CALIBRATION_ROUNDS = 200_000


def calibration_ms() -> float:
    """Milliseconds for the fixed loop (best of three: the machine's speed, not its noise)."""
    best = float("inf")
    for _ in range(3):
        clock = time.perf_counter()
        digest = b"lambdapipe"
        total = 0
        for index in range(CALIBRATION_ROUNDS):
            digest = hashlib.sha256(digest).digest()
            total += index * digest[0]
        best = min(best, time.perf_counter() - clock)
    return round(best * 1000, 1)


def speed() -> str:
    """One line: the calibration time and the load average (1, 5, 15 minutes)."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"machine: calibration {calibration_ms()} ms ({CALIBRATION_ROUNDS:,} rounds), load {load}"


def reported(main: Callable[[], int | None]) -> int:
    """Run a benchmark between two ``speed()`` lines: the load during a run is part of its figures."""
    print(speed(), flush=True)
    try:
        return main() or 0
    finally:
        print(speed(), flush=True)
