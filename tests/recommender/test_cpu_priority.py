"""A background worker runs at the idle CPU priority when configured so, and the threads it starts (torch's)
inherit it; run in child processes, so the test process keeps its own priority."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recommender.cpu_priority import cpu_priority_apply

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")


def run_python(code: str, **env: str) -> str:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    environment.pop("DATABASE_URL", None)  # the hook's warm-up may fail to reach a database: it is optional
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@linux_only
def test_an_idle_process_and_the_threads_it_starts_afterwards_run_only_on_spare_cpu():
    out = run_python(
        "import os, threading\n"
        "from recommender.cpu_priority import cpu_priority_apply\n"
        "assert os.sched_getscheduler(0) != os.SCHED_IDLE\n"
        "print(cpu_priority_apply('idle'))\n"
        "seen = []\n"
        "t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0) == os.SCHED_IDLE))\n"
        "t.start(); t.join()\n"
        "print(os.sched_getscheduler(0) == os.SCHED_IDLE, seen[0])\n"
    )
    assert out.splitlines() == ["idle", "True True"]


@linux_only
def test_the_worker_process_takes_the_configured_priority_before_torch_starts_its_threads():
    code = (
        "import os, django\n"
        "django.setup()\n"
        "from recommender.tasks import warm_up\n"
        "warm_up()\n"
        "import torch\n"
        "torch.ones(256, 256) @ torch.ones(256, 256)\n"  # torch's threads exist now
        "print(os.sched_getscheduler(0) == os.SCHED_IDLE, torch.get_num_threads())\n"
    )
    assert run_python(code, WORKER_CPU_PRIORITY="idle", TORCH_THREADS="2") == "True 2"
    assert run_python(code, WORKER_CPU_PRIORITY="normal", TORCH_THREADS="2") == "False 2"


def test_normal_priority_changes_nothing():
    before = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    assert cpu_priority_apply("normal") == "normal"
    assert (os.sched_getscheduler(0) if before is not None else None) == before


def test_an_unknown_priority_is_refused_with_the_ones_known():
    with pytest.raises(ValueError, match="normal, idle"):
        cpu_priority_apply("high")


def django_set_up_with(**env: str) -> subprocess.CompletedProcess:
    """Django set up in a fresh interpreter with ``env`` added to the environment (its settings read it)."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_misspelt_priority_in_the_environment_stops_the_settings_with_a_clear_error():
    done = django_set_up_with(WORKER_CPU_PRIORITY="low")
    assert done.returncode != 0
    assert "WORKER_CPU_PRIORITY must be normal or idle, not 'low'" in done.stderr
