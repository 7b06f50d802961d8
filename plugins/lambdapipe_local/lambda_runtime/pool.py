"""Warm execution environments per function version, with Lambda's concurrency limits."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lambdapipe_local.lambda_runtime.environment import ExecutionEnvironment
from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec

DEFAULT_ACCOUNT_CONCURRENCY = 1000
DEFAULT_IDLE_TIMEOUT_S = 300.0


class ConcurrencyLimitExceeded(Exception):
    """Raised instead of starting an invocation, like Lambda's TooManyRequestsException."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


EnvironmentFactory = Callable[[FunctionSpec], ExecutionEnvironment]


class EnvironmentPool:
    """One environment per concurrent invocation; idle ones are reused, then reaped."""

    def __init__(
        self,
        create: EnvironmentFactory,
        account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self._create = create
        self.account_concurrency = account_concurrency
        self.idle_timeout_s = idle_timeout_s
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[ExecutionEnvironment]] = defaultdict(list)
        self._busy: set[ExecutionEnvironment] = set()
        self._pinned: set[ExecutionEnvironment] = set()  # provisioned concurrency: never reaped
        self._in_flight_total = 0
        self._in_flight: dict[str, int] = defaultdict(int)
        self.environments_created = 0
        self.peak_concurrency = 0
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_forever, daemon=True, name="lambda-env-reaper")
        self._reaper.start()

    @contextmanager
    def acquire(self, spec: FunctionSpec) -> Iterator[ExecutionEnvironment]:
        env = self._reserve(spec)
        try:
            if env is None:
                env = self._create(spec)
                with self._lock:
                    self.environments_created += 1
                    self._busy.add(env)
            yield env
        finally:
            self._release(spec, env)

    def _reserve(self, spec: FunctionSpec) -> ExecutionEnvironment | None:
        with self._lock:
            if (
                spec.reserved_concurrency is not None
                and self._in_flight[spec.function_name] >= spec.reserved_concurrency
            ):
                raise ConcurrencyLimitExceeded(
                    "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "Rate Exceeded.",
                )
            if self._in_flight_total >= self.account_concurrency:
                raise ConcurrencyLimitExceeded("ConcurrentInvocationLimitExceeded", "Rate Exceeded.")
            self._in_flight_total += 1
            self._in_flight[spec.function_name] += 1
            self.peak_concurrency = max(self.peak_concurrency, self._in_flight_total)
            idle = self._idle[spec.pool_key]
            while idle:
                env = idle.pop()
                if env.alive:
                    self._busy.add(env)
                    return env
                env.close()
            return None

    def _release(self, spec: FunctionSpec, env: ExecutionEnvironment | None) -> None:
        with self._lock:
            self._in_flight_total -= 1
            self._in_flight[spec.function_name] -= 1
            if env is None:
                return
            self._busy.discard(env)
            if env.alive and not self._closed.is_set():
                self._idle[spec.pool_key].append(env)
                return
        env.close()

    def stats(self) -> dict[str, int]:
        with self._lock:
            idle = sum(len(envs) for envs in self._idle.values())
            return {
                "environments_created": self.environments_created,
                "environments_idle": idle,
                "environments_busy": len(self._busy),
                "in_flight": self._in_flight_total,
                "peak_concurrency": self.peak_concurrency,
            }

    def close(self) -> None:
        """Stop every environment, busy ones included (their invocations fail)."""
        self._closed.set()
        with self._lock:
            envs = [env for envs in self._idle.values() for env in envs] + list(self._busy)
            self._idle.clear()
        for env in envs:
            env.close()

    def _reap_forever(self) -> None:
        while not self._closed.wait(min(5.0, self.idle_timeout_s)):
            self.reap_idle()

    def reap_idle(self, older_than_s: float | None = None) -> int:
        """Close environments idle longer than the timeout; returns how many were closed."""
        limit = self.idle_timeout_s if older_than_s is None else older_than_s
        now = time.monotonic()
        stale = []
        with self._lock:
            for key, envs in list(self._idle.items()):
                keep = [env for env in envs if now - env.last_used < limit or env in self._pinned]
                stale += [env for env in envs if now - env.last_used >= limit and env not in self._pinned]
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
        for env in stale:
            env.close()
        return len(stale)

    # Provisioned concurrency (lambdapipe_local.lambda_runtime.provisioned_concurrency) starts environments ahead of use.

    def spawn(self, spec: FunctionSpec) -> ExecutionEnvironment:
        """Start an environment outside any invocation; ``pin`` hands it to the pool once initialized."""
        return self._create(spec)

    def pin(self, spec: FunctionSpec, envs: list[ExecutionEnvironment]) -> bool:
        """Offer initialized environments to invocations, exempt from reaping; False once the pool is closed."""
        with self._lock:
            if self._closed.is_set():
                return False
            self.environments_created += len(envs)
            self._pinned.update(envs)
            self._idle[spec.pool_key].extend(envs)
            return True

    def unpin(self, envs: list[ExecutionEnvironment]) -> None:
        """Release provisioned environments: idle ones stop now, busy ones stay as ordinary warm ones."""
        released = set(envs)
        stopped = []
        with self._lock:
            self._pinned -= released
            for key, pooled in list(self._idle.items()):
                stopped += [env for env in pooled if env in released]
                self._idle[key] = [env for env in pooled if env not in released]
        for env in stopped:
            env.close()
