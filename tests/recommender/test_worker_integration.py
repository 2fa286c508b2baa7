"""End to end on the real services: a real Celery worker on the real Redis, a live server, the real index."""

import threading
import time

import pytest

from bench.site_client import get_json, post_image
from catalog.services.products import product_create
from encoders.versions import active_encoder_version
from recommender import index as annoy_index
from recommender.models import InspirationUpload, RetrainRun
from recommender.services.indexing import index_root
from recommender.services.locks import lock_acquire, lock_owner, lock_release
from recommender.services.retraining import RETRAIN_LOCK
from recommender.tasks import retrain
from tests.encoders.helpers import tiny_config
from tests.recommender.conftest import draw, png
from tests.recommender.worker import Worker, broker_url, use_broker, wait_for

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(redis_url, live_server, tmp_path, eager_celery):
    config = tiny_config(epochs=3).to_dict()
    broker = broker_url(redis_url)
    real = Worker(broker=broker, log=tmp_path / "worker.log", encoder_config=config)
    restore = use_broker(eager_celery, broker)
    real.start()
    yield real
    real.stop()
    restore()


def test_an_upload_through_the_api_reaches_done_with_results(served, worker, live_server):
    lamp = served["products"]["lamp"][0]
    with lamp.image.open("rb") as image:  # the shopper photographs a catalog lamp: it must come first
        status, created = post_image(f"{live_server.url}/api/uploads", image.read(), "photo.png")
    assert status == 202, created

    done = wait_for(
        lambda: (lambda s: s if s[1]["status"] in ("done", "failed") else None)(get_json(created["status_url"])),
        timeout=60,
    )

    assert done is not None, worker.log.read_text()[-3000:]
    assert done[1]["status"] == "done", done[1]
    assert done[1]["results"][0]["sku"] == lamp.sku
    assert InspirationUpload.objects.get(pk=created["id"]).index_version == served["index"]


def test_a_product_added_through_the_service_is_similar_within_seconds(served, worker, live_server):
    rug = served["products"]["rug"][0]
    started = time.monotonic()
    twin = product_create(
        sku="TWIN-RUG", name="Twin rug", category=rug.category, image_data=png(draw((30, 160, 40), "stripes"))
    )

    def twin_listed():
        status, body = get_json(f"{live_server.url}/api/products/{rug.sku}/similar?k=5")
        return status == 200 and any(item["sku"] == twin.sku for item in body["results"])

    assert wait_for(twin_listed, timeout=30, every=0.1), worker.log.read_text()[-3000:]  # speed: bench/freshness.py
    print(f"product save → first appearance in /similar: {time.monotonic() - started:.2f} s")


def test_a_retrain_swaps_the_index_while_queries_run_without_a_failed_query(served, worker, live_server):
    sofa = served["products"]["sofa"][0]
    url = f"{live_server.url}/api/products/{sofa.sku}/similar?k=3"
    outcomes: list[tuple[int, int]] = []
    stop = threading.Event()

    def query_continuously():
        while not stop.is_set():
            status, body = get_json(url)
            outcomes.append((status, len(body.get("results", []))))
            time.sleep(0.02)

    reader = threading.Thread(target=query_continuously)
    reader.start()
    try:
        retrain.delay("test")
        finished = wait_for(
            lambda: RetrainRun.objects.exclude(status=RetrainRun.Status.RUNNING).first(), timeout=240, every=0.5
        )
        time.sleep(1)  # keep querying across the switch and the reload
    finally:
        stop.set()
        reader.join()

    assert finished is not None, worker.log.read_text()[-3000:]
    assert finished.status == RetrainRun.Status.PROMOTED, finished.error
    assert annoy_index.active_version(index_root()) == finished.index_version.name
    assert active_encoder_version() == finished.candidate
    assert len(outcomes) > 20
    assert all(outcome == (200, 3) for outcome in outcomes), [o for o in outcomes if o != (200, 3)][:5]


def test_the_retrain_task_delivered_twice_runs_once(served, worker, live_server):
    """A second delivery of the retrain task while the first holds the pipeline's lease does nothing. The first
    delivery is this test holding the lease, so the two certainly overlap: two deliveries sent together to the pool
    of two may otherwise run one after the other (one child still warming up), which is rightly two runs."""
    first = lock_owner()
    assert lock_acquire(name=RETRAIN_LOCK, owner=first, seconds=600)
    retrain.delay("test")  # the same work delivered again while the first delivery runs

    assert wait_for(lambda: "a retrain is already running" in worker.log.read_text(), timeout=240, every=0.5)
    assert RetrainRun.objects.count() == 0

    lock_release(name=RETRAIN_LOCK, owner=first)  # the first delivery ends; the work can be asked for again
    retrain.delay("test")
    finished = wait_for(
        lambda: RetrainRun.objects.exclude(status=RetrainRun.Status.RUNNING).first(), timeout=240, every=0.5
    )

    assert finished is not None, worker.log.read_text()[-3000:]
    assert finished.status == RetrainRun.Status.PROMOTED and RetrainRun.objects.count() == 1


def test_product_encodes_never_wait_in_front_of_a_shoppers_upload(
    served, redis_url, live_server, tmp_path, eager_celery
):
    """A bulk import queues many product encodes; the upload worker (queue "default") never sees them, so the
    shopper's photo is answered while they all still wait for the product worker."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from config.celery import app
    from recommender.services.uploads import parse_upload_request, upload_create

    broker = broker_url(redis_url, database=11)
    uploads_only = Worker(broker=broker, log=tmp_path / "uploads.log", encoder_config={}, queues="default")
    restore = use_broker(eager_celery, broker)
    uploads_only.start()
    try:
        rug = served["products"]["rug"][0]
        for n in range(50):
            product_create(
                sku=f"BULK-{n}", name=f"Bulk {n}", category=rug.category, image_data=png(draw((9, n, 9), "stripes"))
            )
        photo = SimpleUploadedFile("p.png", png(draw((200, 30, 30), "square")), content_type="image/png")
        upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))

        done = wait_for(lambda: InspirationUpload.objects.get(pk=upload.pk).status == "done", timeout=60)

        with app.connection_for_write() as connection:
            waiting = connection.default_channel.client.llen("products")
    finally:
        uploads_only.stop()
        restore()
    assert done, uploads_only.log.read_text()[-2000:]
    assert waiting == 50  # every product encode is still queued, on its own queue
    assert "encode_product[" not in uploads_only.log.read_text()  # the upload worker received none of them
