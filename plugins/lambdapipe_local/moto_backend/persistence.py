"""The local stack's AWS state on disk, so a restart (or a crash) does not forget it.

moto keeps every resource in memory, in one backend object per service, account and region. A
snapshot pickles all of them in one graph (objects shared between services stay shared) and replaces
the state file atomically, so a reader or a crash sees the old file or the new one, never half of
either. ``StateKeeper`` takes a snapshot shortly after any request that may have changed something,
and one at shutdown: a ``kill -9`` loses the changes of the last ``SAVE_DELAY_S`` (more for a state
so large that one snapshot takes over a tenth of a second: see ``SAVE_SHARE``).
"""

from __future__ import annotations

import collections
import fcntl
import io
import logging
import os
import pickle
import threading
import time
import weakref
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

STATE_FILE = "aws-state.pickle"
LOCK_FILE = "stack.lock"
FORMAT = 1
SAVE_DELAY_S = 0.5  # after a change: how long a kill -9 may lose, for a small state
SAVE_SHARE = 0.2  # a large state is saved less often, so saving takes at most this share of the time
SNAPSHOT_ATTEMPTS = 5  # a request changing a dict while it is pickled: try again
# Services whose backends hold nothing worth keeping: DynamoDB Streams keeps only shard iterators
# (one per GetRecords, never freed), which a restart invalidates anyway; the streams live in DynamoDB.
NOT_SAVED = frozenset({"dynamodbstreams"})
_LOCK_TYPES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


class StateError(RuntimeError):
    """The saved state cannot be used; the message says where it is and how to start afresh."""


def state_file(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def save(state_dir: Path) -> None:
    """Write every moto backend to ``state_dir``, replacing the previous snapshot atomically."""
    import moto

    data = _snapshot({"format": FORMAT, "moto": moto.__version__, "backends": _backends()})
    target = state_file(state_dir)
    staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(staged, "wb", opener=lambda path, flags: os.open(path, flags, 0o600)) as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(staged, target)
    directory = os.open(state_dir, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def load(state_dir: Path) -> bool:
    """Put the saved backends back into moto; False when there is no saved state yet."""
    import moto

    path = state_file(state_dir)
    if not path.exists():
        return False
    start_afresh = f"`lambdapipe local reset --state-dir {state_dir}` starts afresh"
    try:
        saved = pickle.loads(path.read_bytes())
    except Exception as error:
        raise StateError(f"cannot read the saved local AWS state {path} ({error}): {start_afresh}") from error
    if not isinstance(saved, dict):
        raise StateError(f"{path} is not a saved local AWS state: {start_afresh}")
    if saved.get("format") != FORMAT or saved.get("moto") != moto.__version__:
        raise StateError(
            f"the saved local AWS state {path} was written by moto {saved.get('moto')} "
            f"(state format {saved.get('format')}); this is moto {moto.__version__}: {start_afresh}"
        )
    _restore(saved["backends"])
    return True


def claim(state_dir: Path) -> IO[str]:
    """Hold ``state_dir`` for this process (until the returned file closes): two stacks saving into
    one state would overwrite each other's resources."""
    state_dir.mkdir(parents=True, exist_ok=True)
    holder = open(state_dir / LOCK_FILE, "a+")  # noqa: SIM115 (held open for the stack's lifetime)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder.seek(0)
        owner = holder.read().strip() or "unknown"
        holder.close()
        raise StateError(
            f"another lambdapipe local (pid {owner}) is using {state_dir}: stop it first"
        ) from None
    holder.truncate(0)
    holder.write(f"{os.getpid()}\n")
    holder.flush()
    return holder


def remove(state_dir: Path) -> bool:
    """Forget the saved state (``lambdapipe local reset``); False when there was none."""
    path = state_file(state_dir)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


class StateKeeper:
    """Saves the state after changes (``note_change``; at most every ``SAVE_DELAY_S``) and once more
    on ``close()``, which the stack calls when no request is in flight any more."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._save_lock = threading.Lock()
        self._delay_s = SAVE_DELAY_S
        self._thread = threading.Thread(target=self._save_after_changes, daemon=True, name="aws-state")
        self._thread.start()

    def note_change(self) -> None:
        self._changed.set()

    def save_now(self) -> None:
        with self._save_lock:
            self._changed.clear()
            started = time.monotonic()
            save(self.state_dir)
            took = time.monotonic() - started
        self._delay_s = max(SAVE_DELAY_S, took * (1 - SAVE_SHARE) / SAVE_SHARE)

    def close(self) -> None:
        self._closed.set()
        self._changed.set()
        self._thread.join(timeout=30)
        self.save_now()

    def _save_after_changes(self) -> None:
        while not self._closed.is_set():
            self._changed.wait()
            if self._closed.wait(self._delay_s):
                return
            try:
                self.save_now()
            except Exception:  # keep serving: the next change tries again
                log.exception("could not save the local AWS state to %s", self.state_dir)
                time.sleep(SAVE_DELAY_S)


def _backends() -> dict[str, dict[str, dict[str, Any]]]:
    """Service name -> account id -> region -> moto backend, for every backend in use."""
    from moto.core.base_backend import BackendDict

    return {
        backends.service_name: {account: dict(regions) for account, regions in list(backends.items())}
        for backends in list(BackendDict._instances)
        if backends.service_name not in NOT_SAVED
    }


def _restore(saved: dict[str, dict[str, dict[str, Any]]]) -> None:
    from moto.backends import get_backend

    for service, accounts in saved.items():
        backends = get_backend(service)  # type: ignore[call-overload]
        for account, regions in accounts.items():
            for region, backend in regions.items():
                dict.__setitem__(backends[account], region, backend)
    if "s3" in saved:
        _index_buckets(saved["s3"])


def _index_buckets(accounts: dict[str, dict[str, Any]]) -> None:
    """moto finds a bucket's account through an index on its S3 backends, outside the backends saved:
    without it, CreateBucket on a kept bucket would replace it with an empty one."""
    from moto.s3.models import s3_backends

    for account, partitions in accounts.items():
        for partition, backend in partitions.items():
            for name in [*backend.buckets, *backend.table_buckets]:
                s3_backends.bucket_accounts[name] = (partition, account)


def _snapshot(state: dict[str, Any]) -> bytes:
    """Pickle ``state``; a dict a request changes meanwhile raises, so try again."""
    attempt = 1
    while True:
        buffer = io.BytesIO()
        try:
            _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
            return buffer.getvalue()
        except RuntimeError as error:
            if "changed size during iteration" not in str(error) or attempt == SNAPSHOT_ATTEMPTS:
                raise
            attempt += 1
            time.sleep(0.05)


def _defaultdict(default_type: type, items: dict) -> collections.defaultdict:
    return collections.defaultdict(default_type, items)


class _StatePickler(pickle.Pickler):
    """Pickles what moto's backends hold that plain pickle refuses: locks (saved as new, free ones),
    weak-value caches (as their current entries) and defaultdicts whose factory is a lambda."""

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in _LOCK_TYPES:
            return _LOCK_TYPES[kind], ()
        if kind is threading.Condition:
            return threading.Condition, ()
        if kind is weakref.WeakValueDictionary:
            return weakref.WeakValueDictionary, (dict(obj),)
        if kind is collections.defaultdict and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            return _defaultdict, (type(obj.default_factory()), dict(obj))
        return NotImplemented
