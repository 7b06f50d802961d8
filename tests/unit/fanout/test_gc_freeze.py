"""The GC freeze around a worker's fan-out keeps what a forking parent froze frozen afterwards."""

from __future__ import annotations

import subprocess
import sys

FREEZE_PROBE = """
import gc

from lambdapipe.fanout.gc_freeze import startup_objects_frozen

gc.freeze()  # as LocalExecutor does before forking its workers
frozen_by_parent = gc.get_freeze_count()
with startup_objects_frozen():
    pass
assert gc.get_freeze_count() >= frozen_by_parent > 0, (gc.get_freeze_count(), frozen_by_parent)
"""


def test_freezing_for_a_fan_out_keeps_what_a_forking_parent_froze_frozen_afterwards() -> None:
    # In a fresh single-threaded process: in a test worker, other threads free frozen objects meanwhile.
    probe = subprocess.run([sys.executable, "-c", FREEZE_PROBE], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
