"""The real services the production path uses: Redis as the Celery broker, and the configured database."""

import uuid
from pathlib import Path

import pytest
from django.db import connection
from kombu import Connection, Exchange, Queue


def test_messages_go_through_the_real_redis_broker(redis_url):
    queue = Queue(f"lookalike-test-{uuid.uuid4().hex}", Exchange("lookalike-test", type="direct"), routing_key="t")

    with Connection(redis_url, connect_timeout=3) as conn:
        producer = conn.Producer()
        producer.publish({"hello": "broker"}, exchange=queue.exchange, routing_key="t", declare=[queue])
        message = conn.SimpleQueue(queue).get(timeout=5)
        message.ack()
        queue(conn.channel()).delete()

    assert message.payload == {"hello": "broker"}


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_that_was_asked_for():
    import os

    wanted = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"

    assert connection.vendor == wanted


def test_without_redis_the_broker_is_a_folder_that_delivers_messages(tmp_path):
    """The one-machine default (no REDIS_URL): Celery's filesystem transport, configured as settings configure it,
    carries a message from a producer to a consumer with no server running."""
    import importlib
    import os

    from config import settings as project_settings

    folder = tmp_path / "var"
    environment = {"VAR_DIR": str(folder), "REDIS_URL": "", "CELERY_BROKER_URL": ""}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        configured = importlib.reload(project_settings)
        broker, options = configured.CELERY_BROKER_URL, dict(configured.CELERY_BROKER_TRANSPORT_OPTIONS)
    finally:
        for name, value in saved.items():
            os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
        importlib.reload(project_settings)
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    queue = Queue("default", Exchange("default", type="direct"), routing_key="default")

    assert broker == "filesystem://"
    with Connection(broker, transport_options=options) as conn:
        conn.Producer().publish({"upload": "42"}, exchange=queue.exchange, routing_key="default", declare=[queue])
        message = conn.SimpleQueue(queue).get(timeout=5)
        message.ack()

    assert message.payload == {"upload": "42"}
    assert str(folder) in options["data_folder_in"]
