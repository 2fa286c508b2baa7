"""`make demo` runs like production (DEBUG off, its own secret key, static files through WhiteNoise, media served
by Django only because the demo asks) on 127.0.0.1 over plain HTTP, while production's defaults stay strict."""

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.images import image_bytes

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SERVE_MEDIA"]
NAMES += ["SECURE_HSTS_SECONDS"]
SETTINGS = (
    "import json, django; from django.conf import settings as s; django.setup(); "
    f"print(json.dumps({{k: getattr(s, k) for k in {NAMES!r}}}))"
)


def clean_environment(**extra) -> dict:
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL"}
    unset |= {"SECURE_SSL_REDIRECT", "SECURE_COOKIES", "SERVE_MEDIA", "DJANGO_SETTINGS_MODULE"}
    return {
        **{k: v for k, v in os.environ.items() if k not in unset},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra,
    }


def settings_under(script: str, tmp_path) -> dict:
    result = subprocess.run(
        ["bash", "-c", f'{script} && exec "$0" -c "$1"', sys.executable, SETTINGS],
        cwd=ROOT,
        env=clean_environment(VAR_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_production_defaults_stay_strict(tmp_path):
    production = settings_under("export DEBUG=0 SECRET_KEY=a-real-secret-key-of-some-length-0123456789", tmp_path)

    assert production == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SERVE_MEDIA": False,
        "SECURE_HSTS_SECONDS": 31536000,
    }


def test_the_demo_environment_is_production_over_plain_http_with_a_kept_secret_key(tmp_path):
    demo = settings_under(". scripts/demo_env.sh", tmp_path)
    key_file = tmp_path / "demo-secret-key"
    key = key_file.read_text()
    settings_under(". scripts/demo_env.sh", tmp_path)

    assert demo["DEBUG"] is False and demo["SERVE_MEDIA"] is True
    assert not demo["SECURE_SSL_REDIRECT"] and not demo["SESSION_COOKIE_SECURE"] and not demo["CSRF_COOKIE_SECURE"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key.strip()) >= 50
    assert key_file.read_text() == key  # kept: a second run keeps sessions valid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.slow
def test_the_demo_server_serves_pages_static_and_media_without_debug_pages(tmp_path):
    port = free_port()
    (tmp_path / "media" / "products").mkdir(parents=True)
    (tmp_path / "media" / "products" / "photo.jpg").write_bytes(image_bytes())
    script = (
        f". scripts/demo_env.sh && export PORT={port} WEB_WORKERS=1 WEB_THREADS=2"
        f' && "$0" manage.py migrate --no-input -v 0 && "$0" manage.py collectstatic --no-input -v 0'
        ' && exec "$0" -m gunicorn -c config/gunicorn.py config.wsgi'
    )
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            ["bash", "-c", script, sys.executable],
            cwd=ROOT,
            env=clean_environment(VAR_DIR=str(tmp_path), CELERY_BROKER_URL="filesystem://"),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, headers, body = fetch(base + "/")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        css = fetch(base + "/static/css/site.css")
        media = fetch(base + "/media/products/photo.jpg")
        missing = fetch(base + "/products/a-removed-product/")
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert status == 200 and b"Find furniture that looks like your photo" in body  # no redirect to https
    assert "Secure" not in headers.get("Set-Cookie", "")
    assert css[0] == 200 and b"--accent" in css[2]
    assert media[0] == 200 and media[1]["X-Content-Type-Options"] == "nosniff" and media[2] == image_bytes()
    assert missing[0] == 404 and "We can’t find that page" in missing[2].decode()
    assert b"URLconf" not in missing[2] and b"Traceback" not in missing[2]
