"""The web process (and beat) never import torch: model work belongs to workers and management commands.

Checked in a fresh interpreter, since the test process itself has torch loaded by other tests."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WEB_PROCESS = r"""
import io, json, os, sys, uuid
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)

from config.wsgi import application  # noqa: F401  (what gunicorn imports)
from django.urls import get_resolver, URLPattern, URLResolver
modules = set()
def walk(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            walk(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            modules.add(pattern.callback.__module__)
walk(get_resolver().url_patterns)

from config.celery import app
app.loader.import_default_modules()  # what beat and the workers import: every app's tasks module
import django_celery_beat.schedulers  # noqa: F401

from django.contrib.auth import get_user_model
from django.test import Client
from PIL import Image
admin = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
client = Client()
statuses = {}
for path in ["/", "/products/", "/map/", "/api/map", f"/api/uploads/{uuid.uuid4()}", "/admin/login/"]:
    statuses[path] = client.get(path).status_code
buffer = io.BytesIO()
Image.new("RGB", (64, 48), "red").save(buffer, format="JPEG")
buffer.seek(0)
buffer.name = "photo.jpg"
posted = client.post("/api/uploads", {"image": buffer})
statuses["POST /api/uploads"] = posted.status_code
statuses["GET upload"] = client.get(f"/api/uploads/{posted.json()['id']}?wait=0.2").status_code
client.force_login(admin)
ADMIN_PAGES = ["/admin/", "/admin/catalog/product/", "/admin/encoders/encoderversion/",
               "/admin/recommender/indexversion/", "/admin/recommender/retrainrun/",
               "/admin/recommender/inspirationupload/"]
for path in ADMIN_PAGES:
    statuses[path] = client.get(path).status_code
print(json.dumps({"torch": "torch" in sys.modules, "torchvision": "torchvision" in sys.modules,
                  "statuses": statuses, "modules": sorted(modules)}))
"""


def test_the_web_process_and_beat_never_import_torch(tmp_path):
    environment = {
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
    }
    result = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"recommender.api", "recommender.views", "catalog.views"} <= set(report["modules"])
    assert all(status in (200, 202, 404) for status in report["statuses"].values()), report["statuses"]
    assert report["statuses"]["POST /api/uploads"] == 202
    assert not report["torch"] and not report["torchvision"]
