"""Where the machine's CPU went while a bench ran: CPU seconds per role (the web process, each Celery worker by its
queues, beat, PostgreSQL, Redis, the bench itself), read from Linux's /proc before and after.

    before = cpu_use.snapshot()
    ...  # the run
    print(cpu_use.report(before, cpu_use.snapshot(), per=uploads, unit="upload"))

A process that started and ended between the two snapshots (a PostgreSQL backend of a short connection) is not in
any role: the machine's busy time (from /proc/stat) less the roles' sum is printed as "other". Elsewhere than Linux
the snapshot is empty and the report says so.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Snapshot:
    processes: dict[int, tuple[str, float]] = field(default_factory=dict)  # pid -> (role, CPU seconds so far)
    busy: float = 0.0  # the machine's CPU seconds spent not idle, all cores
    total: float = 0.0  # the machine's CPU seconds, all cores


def role_of(command: str, *, own_pid: bool = False) -> str | None:
    """A process's role from its command line; None for processes that are not part of the site or the bench."""
    if own_pid:
        return "this bench (its clients)"
    if "gunicorn" in command:
        return "web (gunicorn)"
    if "celery" in command and " beat" in command:
        return "beat"
    if "celery" in command and " worker" in command:
        queues = re.search(r"(?:-Q|--queues)[ =](\S+)", command)
        return f"worker ({queues.group(1) if queues else 'default'})"
    if command.startswith("postgres") or "/postgres" in command.split(" ")[0]:
        return "PostgreSQL"
    if "redis-server" in command:
        return "Redis"
    return None


def _process_seconds(pid: str, ticks: int) -> float | None:
    try:
        stat = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _command(pid: str) -> str:
    try:
        return (PROC / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def snapshot() -> Snapshot:
    if not (PROC / "stat").exists():
        return Snapshot()
    ticks = os.sysconf("SC_CLK_TCK")
    own = os.getpid()
    processes: dict[int, tuple[str, float]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        role = role_of(_command(entry.name), own_pid=int(entry.name) == own)
        seconds = _process_seconds(entry.name, ticks) if role else None
        if role and seconds is not None:
            processes[int(entry.name)] = (role, seconds)
    cpu = [int(value) for value in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = cpu[3] + cpu[4]  # idle + iowait
    return Snapshot(processes=processes, busy=(sum(cpu) - idle) / ticks, total=sum(cpu) / ticks)


def seconds_by_role(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds each role spent between the snapshots, most first; "other" is the machine's busy time that no
    role's process accounts for (processes that came and went, the kernel, anything else running)."""
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.processes.items():
        earlier = before.processes.get(pid)
        spent[role] = spent.get(role, 0.0) + seconds - (earlier[1] if earlier and earlier[0] == role else 0.0)
    spent["other"] = max(0.0, after.busy - before.busy - sum(spent.values()))
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


def report(before: Snapshot, after: Snapshot, *, per: int, unit: str) -> str:
    """A Markdown table: each role's CPU seconds and milliseconds per ``unit`` (``per`` of them), and the machine's
    share of its cores that was busy."""
    if not after.processes:
        return "CPU use: not measured (no /proc here)"
    spent = seconds_by_role(before, after)
    cores = os.cpu_count() or 1
    wall = (after.total - before.total) / cores
    busy = after.busy - before.busy
    lines = [
        f"CPU use over {wall:.1f} s on {cores} cores: {busy:.1f} CPU s busy ({busy / max(wall * cores, 1e-9):.0%}),"
        f" {busy * 1000 / max(per, 1):.0f} ms per {unit}",
        "",
        f"| role | CPU s | ms per {unit} |",
        "|---|---|---|",
    ]
    lines += [f"| {role} | {seconds:.2f} | {seconds * 1000 / max(per, 1):.1f} |" for role, seconds in spent.items()]
    return "\n".join(lines)
