"""The fan-out engine's process-level set-up, without AWS: the GC freeze around a run."""

from __future__ import annotations

import subprocess
import sys

FREEZE_PROBE = """
import gc

from lambdapipe.fanout.engine import startup_objects_frozen

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
