"""Actions per client per minute, counted in the shared cache (a fixed one-minute window): uploads, feedback
answers and recorded product views. Anonymous writes that feed training or cost a worker are bounded per
client, whatever the client does with cookies."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

TOO_MANY_UPLOADS = "Too many photos in a minute. Please wait a moment and try again."
TOO_MANY_ANSWERS = "Too many answers in a minute. Please wait a moment and try again."

LIMITS = {  # action -> the setting holding its per-minute limit (0 turns the limit off)
    "upload": "UPLOAD_RATE_LIMIT_PER_MINUTE",
    "feedback": "FEEDBACK_RATE_LIMIT_PER_MINUTE",
    "view": "VIEW_RATE_LIMIT_PER_MINUTE",
}


def client_address(request: HttpRequest) -> str:
    """The client's IP address. Behind TRUSTED_PROXY_COUNT proxies it is taken from X-Forwarded-For, counting
    from the right, so a client cannot choose its own address by sending the header itself."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "unknown")


def allowed(request: HttpRequest, action: str) -> bool:
    """Count this ``action`` of the request's client; False once the client is over its limit this minute."""
    limit = getattr(settings, LIMITS[action])
    if limit <= 0:
        return True
    key = f"rate:{action}:{client_address(request)}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=70)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=70)
        count = 1
    return count <= limit


def upload_allowed(request: HttpRequest) -> bool:
    return allowed(request, "upload")
