#!/usr/bin/env bash
# `make demo`: set up a demo catalog and run the web server, a Celery worker and beat together.
# A second run reuses what exists (database, media, staff user) and only imports what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
port="${PORT:-8000}"
# shellcheck source=scripts/demo_env.sh
. scripts/demo_env.sh
host="$HOST"
export PYTHONUNBUFFERED=1

$python manage.py migrate --no-input -v 0
$python manage.py collectstatic --no-input -v 0

# A staff user whose password is kept (readable only by you) in var/, so a second run prints the same login.
password_file=var/demo-admin-password
if [ ! -s "$password_file" ]; then
  (umask 077 && $python -c "import secrets; print(secrets.token_urlsafe(12))" >"$password_file")
fi
DEMO_PASSWORD="$(cat "$password_file")" $python manage.py shell -v 0 -c "
import os
from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username='admin', defaults={'is_staff': True, 'is_superuser': True})
user.is_staff = user.is_superuser = True
user.set_password(os.environ['DEMO_PASSWORD'])
user.save()
"

# The demo catalog: DEMO_CATALOG, else the IKEA data beside the project, else Sweet Home 3D's libraries.
sh3d=/usr/share/sweethome3d/furniture
catalog="${DEMO_CATALOG:-}"
if [ -z "$catalog" ] && [ -f ../shared/data/ikea/catalog.json ]; then catalog=../shared/data/ikea; fi
if [ -z "$catalog" ] && [ ! -d "$sh3d" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "No catalog given; installing Debian's Sweet Home 3D furniture library…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sweethome3d-furniture >/dev/null) || true
fi
if [ -z "$catalog" ] && [ -d "$sh3d" ]; then catalog="$sh3d"; fi
if [ -z "$catalog" ]; then
  cat >&2 <<MSG
No demo catalog found. Give one with DEMO_CATALOG=PATH make demo, where PATH is
  - a folder with catalog.json and product images (the IKEA format),
  - a Sweet Home 3D .sh3f file or a folder of them (apt-get install sweethome3d-furniture), or
  - a CSV with columns sku,name,category,price,description,image (image paths relative to the CSV).
MSG
  exit 1
fi
echo "Importing the demo catalog from $catalog"
$python manage.py import_catalog "$catalog"
if [ -f "$catalog/catalog.json" ] && [ "$(cd "$catalog" && pwd -P)" = "$(cd ../shared/data/ikea 2>/dev/null && pwd -P)" ]; then
  # The IKEA data has no prices: give its products made-up ones, marked "demo price", so price filters work.
  $python manage.py demo_prices
fi
rooms="$catalog/rooms.json"
if [ -f "$rooms" ]; then
  $python manage.py import_coviews "$rooms" --split train
fi

# The first run trains a quick encoder, encodes the catalog, builds the index and serves it; later runs
# reuse them (the nightly retrain, or "Retrain now" in admin, trains the full configuration).
$python manage.py retrain --quick --if-missing

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# One worker per kind of work: shoppers' uploads alone on "default"; product encodes, the pieces of room photos and
# staff's drawings on "products,pictures", and retraining on "training", both at the idle CPU priority
# (WORKER_CPU_PRIORITY=idle, recommender/cpu_priority.py) so that they only use CPU that a shopper's answer leaves.
.venv/bin/celery -A config worker --loglevel INFO --concurrency 1 -Q default -n default@%h >var/worker.log 2>&1 &
pids+=($!)
WORKER_CPU_PRIORITY=idle .venv/bin/celery -A config worker --loglevel INFO --concurrency 1 -Q products,pictures -n products@%h \
  >var/products-worker.log 2>&1 &
pids+=($!)
WORKER_CPU_PRIORITY=idle .venv/bin/celery -A config worker --loglevel INFO --concurrency 1 -Q training -n training@%h \
  >var/training-worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A config beat --loglevel INFO >var/beat.log 2>&1 &
pids+=($!)
HOST="$host" PORT="$port" .venv/bin/gunicorn -c config/gunicorn.py config.wsgi >var/web.log 2>&1 &
pids+=($!)

cat <<MSG

  Lookalike is running at http://$host:$port/
  Staff admin:            http://$host:$port/admin/  (user admin, password $(cat "$password_file"))
  Logs:                   var/web.log, var/worker.log, var/products-worker.log, var/training-worker.log, var/beat.log
  Press Ctrl+C to stop.

MSG
wait -n "${pids[@]}"
