"""A worker process's claim on the CPU (``WORKER_CPU_PRIORITY``): shoppers' answers first.

On one machine the background workers (product encodes, the pieces of a room photo, retraining) share the cores
with the upload worker and the web process. A lower ``nice`` is not enough: a niced process still takes a share of
every core it runs on, and the upload worker's torch threads wait for each other at every layer. Under Linux's
``SCHED_IDLE`` a process runs only when no other process wants the CPU, so background work fills the gaps between
shoppers' answers and never delays one. Threads started afterwards (torch's) inherit the policy. Measured in the
README ("Serving").
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

PRIORITIES = ("normal", "idle")
IDLE_NICE = 19  # where SCHED_IDLE does not exist (not Linux): the lowest nice value instead


def cpu_priority_apply(priority: str) -> str:
    """Give the calling process (and the threads it starts from now on) ``priority``: "normal" changes nothing;
    "idle" runs it only on otherwise idle CPUs. Returns what was applied: "normal", "idle" or "nice 19"."""
    if priority not in PRIORITIES:
        raise ValueError(f"unknown CPU priority {priority!r}; known: {', '.join(PRIORITIES)}")
    if priority == "normal":
        return "normal"
    if hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return "idle"
    os.nice(IDLE_NICE - os.nice(0))
    logger.warning("SCHED_IDLE is not available here: the worker runs at nice %d instead", IDLE_NICE)
    return f"nice {IDLE_NICE}"
