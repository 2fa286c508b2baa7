"""bench/cpu_use.py: roles read from command lines, and the CPU each spent between two snapshots."""

import sys

import pytest

from bench import cpu_use


@pytest.mark.parametrize(
    ("command", "role"),
    [
        (".venv/bin/python .venv/bin/gunicorn -c config/gunicorn.py config.wsgi", "web (gunicorn)"),
        (
            ".venv/bin/python .venv/bin/celery -A config worker --concurrency 1 -Q default -n default@h",
            "worker (default)",
        ),
        (".venv/bin/celery -A config worker -Q products,pictures -n products@h", "worker (products,pictures)"),
        (".venv/bin/celery -A config worker --queues=training", "worker (training)"),
        (".venv/bin/celery -A config beat --loglevel INFO", "beat"),
        ("postgres: 16/main: postgres lookalike 127.0.0.1(5432) idle", "PostgreSQL"),
        ("/usr/lib/postgresql/16/bin/postgres -D /var/lib/postgresql", "PostgreSQL"),
        ("redis-server 127.0.0.1:6379", "Redis"),
        ("bash -l", None),
    ],
)
def test_a_process_is_given_its_role_by_its_command_line(command, role):
    assert cpu_use.role_of(command) == role


def test_the_spent_seconds_are_the_differences_and_the_rest_of_the_busy_time_is_other():
    before = cpu_use.Snapshot(processes={1: ("web (gunicorn)", 5.0), 2: ("Redis", 1.0)}, busy=100.0, total=400.0)
    after = cpu_use.Snapshot(
        processes={1: ("web (gunicorn)", 7.0), 2: ("Redis", 1.5), 3: ("web (gunicorn)", 0.5)}, busy=105.0, total=410.0
    )

    spent = cpu_use.seconds_by_role(before, after)

    assert spent == pytest.approx({"web (gunicorn)": 2.5, "Redis": 0.5, "other": 2.0})
    assert list(spent)[0] == "web (gunicorn)"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_snapshot_sees_this_process_spend_cpu():
    before = cpu_use.snapshot()
    sum(i * i for i in range(2_000_000))
    after = cpu_use.snapshot()

    spent = cpu_use.seconds_by_role(before, after)

    assert spent["this bench (its clients)"] > 0
    assert "ms per upload" in cpu_use.report(before, after, per=10, unit="upload")
