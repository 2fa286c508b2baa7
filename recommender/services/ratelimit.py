"""Uploads per client per minute, counted in the shared cache (a fixed one-minute window)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

TOO_MANY_UPLOADS = "Too many photos in a minute. Please wait a moment and try again."


def client_address(request: HttpRequest) -> str:
    """The client's IP address. Behind TRUSTED_PROXY_COUNT proxies it is taken from X-Forwarded-For, counting
    from the right, so a client cannot choose its own address by sending the header itself."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "unknown")


def upload_allowed(request: HttpRequest) -> bool:
    """Count this upload attempt; False once the client is over the limit for the current minute."""
    limit = settings.UPLOAD_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return True
    key = f"upload-rate:{client_address(request)}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=70)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=70)
        count = 1
    return count <= limit
