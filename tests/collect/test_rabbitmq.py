"""RabbitMQ queue depth over AMQP against the machine's real RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from watchkeeper.collect.celery import CeleryCollector
from watchkeeper.collect.rabbitmq import RabbitMQCollector
from watchkeeper.collect.service_errors import CollectionError
from wk_testing import free_port, require_service

amqp = pytest.importorskip("amqp")
pytestmark = pytest.mark.services

URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def queue() -> Iterator[str]:
    require_service("rabbitmq", port=5672)
    name = f"wk-test-{uuid.uuid4().hex[:8]}"
    conn = amqp.Connection("127.0.0.1:5672", userid="guest", password="guest")
    conn.connect()
    ch = conn.channel()
    ch.queue_declare(name, durable=False, auto_delete=False)
    for i in range(3):
        ch.basic_publish(amqp.Message(f"m{i}"), routing_key=name)
    try:
        yield name
    finally:
        ch.queue_delete(name)
        conn.close()


def test_queue_depth_and_missing_queue(queue: str) -> None:
    c = RabbitMQCollector("rabbitmq:main", URL, queues=[queue, "wk-does-not-exist"])
    try:
        samples = c.collect(0)
    finally:
        c.close()
    got = {(s.name, s.labels.get("queue")): s.value for s in samples}
    assert got[("rabbitmq_queue_messages", queue)] == 3
    assert got[("rabbitmq_queue_consumers", queue)] == 0
    assert got[("rabbitmq_queue_exists", queue)] == 1
    assert got[("rabbitmq_queue_exists", "wk-does-not-exist")] == 0


def test_celery_queue_length_on_an_amqp_broker(queue: str) -> None:
    c = CeleryCollector("celery:rabbit", URL, queues=[queue], inspect_workers=False)
    try:
        samples = c.collect(0)
    finally:
        c.close()
    assert [s.value for s in samples if s.name == "celery_queue_length"] == [3.0]


def test_bad_credentials_and_nothing_listening() -> None:
    require_service("rabbitmq", port=5672)
    bad = RabbitMQCollector("rabbitmq:bad", "amqp://guest:wrong@127.0.0.1:5672//", queues=["x"])
    with pytest.raises(CollectionError, match="ACCESS_REFUSED"):
        bad.collect(0)
    port = free_port()
    gone = RabbitMQCollector(
        "rabbitmq:gone", f"amqp://guest:guest@127.0.0.1:{port}//", queues=["x"]
    )
    with pytest.raises(CollectionError, match=f"connection refused to 127.0.0.1:{port}"):
        gone.collect(0)
