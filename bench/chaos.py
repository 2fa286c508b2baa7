"""A chaos soak: shoppers upload real photos while workers are killed, Redis restarts, staff save products and a
retrain promotes a new encoder. It reports what happened to every upload and every saved product.

    python bench/chaos.py --seconds 600 --clients 8

It runs on a copy of a served site (default: the site of this environment, DATABASE_URL and VAR_DIR: make demo,
or manage.py retrain): a new PostgreSQL database restored from its pg_dump, and copies of its media, models and
index folders, so the site itself is left as it was. It then starts, on that copy:

- a Redis server of its own (append-only file, fsync every second: what the README recommends for the broker),
- gunicorn, a worker for "default" (uploads), one for "products,pictures", one for "training", and beat;

and for --seconds: --clients shoppers each upload a photo (../shared/data/webphotos) and follow it with the
long-poll as the page does; every --kill-every seconds the upload worker is SIGKILLed (main process and pool)
and started again at once, as a supervisor would; once, Redis is killed and started again after 5 s; a staff
thread saves a product every 2 s (each time another picture of the catalog, re-encoded: see bench/twin_photo.py); at
30 s a retrain is sent, with a quick configuration and a tolerance that lets it promote. Then it waits (up to
--settle seconds) until no upload is queued or processing, every saved product is findable and the retrain has
ended, and reports: uploads accepted / done / failed with their reasons / lost; uploads processed twice (an
upload answered by two deliveries, from the workers' logs); products saved / findable (each is listed among the
ten "similar items" of the one whose photo it copies, as its own card), and why each one that is not is not.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_client import get_json, post_image  # noqa: E402
from bench.twin_photo import twin_photo  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


class Process:
    """A process of the copied site, in its own process group so that a kill takes all its children."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path):
        self.name, self.command, self.env, self.log = name, command, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def copy_site(source_database: str, source_var: Path, work: Path) -> tuple[str, dict]:
    """A copy of the site's database (pg_dump, so the site may keep running) and of its folders; returns (URL,
    folders)."""
    parsed = urlparse(source_database)
    name = f"chaos_{int(time.time())}"
    copy = parsed._replace(path=f"/{name}").geturl()
    subprocess.run(["psql", parsed._replace(path="/postgres").geturl(), "-qc", f"CREATE DATABASE {name}"], check=True)
    dump = subprocess.Popen(["pg_dump", "--no-owner", source_database], stdout=subprocess.PIPE)
    subprocess.run(["psql", "-q", copy], stdin=dump.stdout, stdout=subprocess.DEVNULL, check=True)
    dump.wait()
    folders = {}
    for folder in ("media", "models", "index"):
        shutil.copytree(source_var / folder, work / folder, symlinks=True, ignore=shutil.ignore_patterns("leases"))
        folders[folder.upper() + "_ROOT"] = str(work / folder)
    return copy, folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kill-every", type=float, default=60)
    parser.add_argument("--settle", type=float, default=300, help="seconds to let the reaper finish afterwards")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "webphotos")
    parser.add_argument("--keep", action="store_true", help="keep the copied database and folders")
    args = parser.parse_args()

    source_database = os.environ.get("DATABASE_URL", "")
    if not source_database.startswith("postgres"):
        raise SystemExit("run it with DATABASE_URL pointing to the served site's PostgreSQL database")
    source_var = Path(os.environ.get("VAR_DIR", ROOT / "var"))
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    database, folders = copy_site(source_database, source_var, work)
    # Leases copied from the running site (its nightly retrain, say) are held by no process of the copy.
    subprocess.run(["psql", "-q", database, "-c", "DELETE FROM recommender_joblock"], check=True)
    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        **os.environ, **folders, "DATABASE_URL": database, "VAR_DIR": str(work), "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url, "UPLOAD_RATE_LIMIT_PER_MINUTE": "0", "PYTHONUNBUFFERED": "1",
        "PROMOTION_TOLERANCE": "1", "ENCODER_CONFIG": '{"epochs": 2, "wild_views": 1}',
        "ENCODER_CACHE_DIR": str(source_var / "cache" / "encoder"),
    }  # fmt: skip
    logs = work / "logs"
    logs.mkdir()
    redis = Process(
        "redis",
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(work), "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec"],
        env, logs / "redis.log",
    )  # fmt: skip
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    uploads = Process(
        "uploads", [*celery, "worker", "-c", "1", "-Q", "default", "-n", "uploads@%h"], env, logs / "uploads.log"
    )
    others = [
        Process("products", [*celery, "worker", "-c", "1", "-Q", "products,pictures", "-n", "products@%h"], env,
                logs / "products.log"),
        Process("training", [*celery, "worker", "-c", "1", "-Q", "training", "-n", "training@%h"], env,
                logs / "training.log"),
        Process("beat", [*celery, "beat", "-s", str(work / "beat-schedule")], env, logs / "beat.log"),
        Process("web", [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "config.wsgi"],
                {**env, "PORT": str(web_port), "WEB_ACCESS_LOG": "/dev/null"}, logs / "web.log"),
    ]  # fmt: skip
    redis.start()
    wait_port(redis_port)
    for process in [uploads, *others]:
        process.start()
    wait_port(web_port, timeout=60)
    time.sleep(10)  # workers load the encoder

    os.environ.update({key: env[key] for key in ("DATABASE_URL", "VAR_DIR", "MEDIA_ROOT", "REDIS_URL")})
    os.environ.update({"CELERY_BROKER_URL": redis_url, "DJANGO_SETTINGS_MODULE": "config.settings"})
    import django

    django.setup()
    from catalog.models import Product
    from catalog.services.products import product_create
    from recommender.models import InspirationUpload
    from recommender.tasks import retrain

    base = f"http://127.0.0.1:{web_port}"
    photos = sorted(p for p in args.photos.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    random.Random(0).shuffle(photos)
    accepted: list[str] = []
    refused: collections.Counter = collections.Counter()
    saved: list[tuple[str, str]] = []  # (new sku, sku of the product whose photo it copies)
    events: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds
    counter = iter(range(10**9))

    def shopper() -> None:
        while time.monotonic() < stop_at:
            with lock:
                photo = photos[next(counter) % len(photos)]
            try:
                status, created = post_image(f"{base}/api/uploads", photo.read_bytes(), photo.name, timeout=30)
            except OSError as error:
                with lock:
                    refused[f"{type(error).__name__}"] += 1
                time.sleep(1)
                continue
            if status != 202:
                with lock:
                    refused[f"POST {status}"] += 1
                time.sleep(1)
                continue
            with lock:
                accepted.append(created["id"])
            state = "queued:answer"
            while time.monotonic() < stop_at:
                try:
                    query = urllib.parse.urlencode({"wait": 10, "after": state})
                    status, body = get_json(f"{created['status_url']}?{query}", timeout=40)
                except OSError:
                    time.sleep(1)
                    continue
                if status != 200 or body["status"] in ("done", "failed"):
                    break
                state = body["state"]

    def staff() -> None:
        # Each save copies a different picture: two copies of one picture (of one product, or of two catalog
        # products that share it) would be byte-identical, hence variants of each other (one card, see
        # ``catalog.variants``), and only one of them could be listed among its source's similar items.
        sources = list(Product.objects.filter(is_active=True).order_by("image_sha256", "pk").distinct("image_sha256"))
        random.Random(1).shuffle(sources)
        n = 0
        while time.monotonic() < stop_at and n < len(sources):
            source = sources[n]
            with source.image.open("rb") as handle:
                data = handle.read()
            sku = f"CHAOS-{n}"
            try:
                product_create(sku=sku, name=f"Copy {n} of {source.name}", category=source.category,
                               image_data=twin_photo(data), image_name="copy.jpg")  # fmt: skip
                saved.append((sku, source.sku))
            except Exception as error:  # the database is never down here; anything else is a finding
                events.append(f"save {sku} failed: {error}")
            n += 1
            time.sleep(2)

    threads = [threading.Thread(target=shopper) for _ in range(args.clients)] + [threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    next_kill, redis_restarted, retrain_sent = started + args.kill_every, False, False
    while time.monotonic() < stop_at:
        now = time.monotonic()
        if not retrain_sent and now - started >= 30:
            retrain.delay("chaos")
            retrain_sent = True
            events.append(f"{now - started:.0f} s: retrain sent")
        if now >= next_kill:
            uploads.kill()
            uploads.start()
            events.append(f"{now - started:.0f} s: upload worker killed and started again")
            next_kill += args.kill_every
        if not redis_restarted and now - started >= args.seconds / 2:
            redis.kill()
            events.append(f"{now - started:.0f} s: Redis killed")
            time.sleep(5)
            redis.start()
            wait_port(redis_port)
            events.append(f"{time.monotonic() - started:.0f} s: Redis started again (append-only file kept)")
            redis_restarted = True
        time.sleep(0.5)
    for thread in threads:
        thread.join()

    def unfindable() -> list[tuple[str, str]]:
        """The saved products that are not among the ten "similar items" of the product whose photo they copy."""
        missing = []
        for sku, source_sku in saved:
            status, body = get_json(f"{base}/api/products/{urllib.parse.quote(source_sku)}/similar?k=10")
            if status != 200 or not any(card["sku"] == sku for card in body["results"]):
                missing.append((sku, source_sku))
        return missing

    def findability(sku: str) -> str:
        """Why a saved product is not among its source's ten: not active, no vector under the serving encoder,
        or a vector (in the index or the fresh set) that ranks below ten among the source's neighbours."""
        from recommender.models import ProductEmbedding
        from recommender.services.search import serving_state, similar_products

        product = Product.objects.get(sku=sku)
        source = Product.objects.get(sku=source_of[sku])
        state = serving_state()
        if not product.is_active:
            return "not active"
        revision = (
            ProductEmbedding.objects.filter(product=product, encoder_version=state.encoder_version)
            .values_list("revision", flat=True)
            .first()
        )
        if revision is None:
            return f"no vector under the serving encoder {state.encoder_version}"
        where = "in the index" if revision <= state.watermark else "in the fresh set"
        ranked = [pk for pk, _ in similar_products(product=source, k=100)]
        rank = ranked.index(product.pk) + 1 if product.pk in ranked else None
        return f"vector {where}, rank {rank or '> 100'} among the source's similar items"

    # Settle: the reaper finishes what a killed worker left, the reconcile job encodes what a lost message left,
    # and the retrain ends; up to --settle seconds.
    from recommender.models import RetrainRun

    ended = time.monotonic()
    settle_until = ended + args.settle
    while True:
        pending = InspirationUpload.objects.filter(pk__in=accepted, status__in=["queued", "processing"]).count()
        retraining = RetrainRun.objects.filter(trigger="chaos", status="running").exists()
        missing = unfindable()
        findable = len(saved) - len(missing)
        if (not pending and not retraining and not missing) or time.monotonic() >= settle_until:
            break
        time.sleep(10)
    settled = time.monotonic() - ended

    statuses = dict(InspirationUpload.objects.filter(pk__in=accepted).values_list("pk", "status").iterator())
    reasons = collections.Counter(
        InspirationUpload.objects.filter(pk__in=accepted, status="failed").values_list("error", flat=True)
    )
    answers = collections.Counter(
        match
        for log in (logs / "uploads.log",)
        for match in re.findall(r"upload ([0-9a-f-]{36}) answered", log.read_text(errors="replace"))
    )
    twice = sorted(pid for pid, count in answers.items() if count > 1)
    counts = collections.Counter(str(status) for status in statuses.values())

    print(f"chaos soak: {args.clients} clients for {args.seconds:.0f} s, load average {os.getloadavg()[0]:.1f}")
    for event in events:
        print(f"  {event}")
    print(f"\nuploads accepted {len(accepted)} · done {counts['done']} · failed {counts['failed']} · "
          f"lost {counts['queued'] + counts['processing']} · processed twice {len(twice)}")  # fmt: skip
    for reason, count in reasons.most_common():
        print(f"  failed: {reason} ×{count}")
    for reason, count in refused.most_common():
        print(f"  refused: {reason} ×{count}")
    print(f"products saved {len(saved)} · findable {findable}")
    source_of = dict(saved)
    for sku, source_sku in missing:
        print(f"  not findable: {sku} (a copy of {source_sku}): {findability(sku)}")
    print(f"settled {settled:.0f} s after the soak ended (at most --settle {args.settle:.0f} s)")

    runs = "; ".join(f"{run.status}: {run.reason or run.error}" for run in RetrainRun.objects.filter(trigger="chaos"))
    print(f"retrain runs: {runs or 'none finished'}")

    for process in [uploads, *others, redis]:
        process.stop()
    if not args.keep:
        from django.db import connections

        connections.close_all()
        parsed = urlparse(database)
        subprocess.run(["psql", parsed._replace(path="/postgres").geturl(), "-qc",
                        f"DROP DATABASE IF EXISTS {parsed.path.lstrip('/')} WITH (FORCE)"], check=False)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept: {database} and {work}")


if __name__ == "__main__":
    main()
