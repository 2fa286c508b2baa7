"""Tiny HTTP helpers for the benchmarks (standard library only)."""

from __future__ import annotations

import json
import statistics
import urllib.error
import urllib.request
import uuid


def answer_times(seconds: list[float]) -> str:
    """ "The API's answer: median X ms, p95 Y ms" of request durations in seconds."""
    ordered = sorted(seconds)
    median, p95 = statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]
    return f"The API's answer: median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def get_json(url: str, timeout: float = 30) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {"error": body[:200].decode(errors="replace")}


def post_image(url: str, image: bytes, filename: str, fields: dict[str, str] | None = None, timeout: float = 60):
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (fields or {}).items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {"error": body[:200].decode(errors="replace")}
