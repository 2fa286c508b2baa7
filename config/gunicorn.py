"""gunicorn's settings for the web process: ``gunicorn -c config/gunicorn.py config.wsgi``.

Threaded workers (gthread): a shopper's page waiting on a long-poll (GET /api/uploads/<id>?wait=…, up to 30 s)
holds a thread, not a whole process, so waiting pages never block other requests. Every value can be set from
the environment; the defaults suit one 2-core machine.
"""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "16"))
timeout = 60  # above the longest long-poll
graceful_timeout = 30
keepalive = 5
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))  # recycle workers now and then
max_requests_jitter = 500
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
