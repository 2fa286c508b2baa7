"""The real services the production path uses: Redis as the Celery broker, and the configured database."""

import uuid

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


def test_default_broker_needs_no_server(settings):
    from config.celery import app

    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    assert app.conf.task_ignore_result is True
