"""Request bodies are checked while they stream in: a file part bigger than IMAGE_MAX_BYTES stops the upload at
that point, and every file part that is allowed stays in memory. Nothing of an oversized body is written to
disk, and the view answers 413 (see ``upload_too_large``).

Django's own DATA_UPLOAD_MAX_MEMORY_SIZE does not count file parts, and its default handlers spool any file
over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file before a view can look at its size.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

TOO_LARGE = "upload_too_large"


class ImageSizeLimitHandler(FileUploadHandler):
    """Counts the bytes of every file part of one request and stops the upload once they pass IMAGE_MAX_BYTES.
    It comes first among FILE_UPLOAD_HANDLERS, so the memory handler after it never holds more than that."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.received = 0
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.IMAGE_MAX_BYTES:
            setattr(self.request, TOO_LARGE, True)
            raise StopUpload(connection_reset=True)  # stop reading: the rest of the body is never read
        return raw_data

    def file_complete(self, file_size: int):
        return None


def upload_too_large(request: HttpRequest) -> bool:
    """True once the request's files were parsed (touch ``request.FILES`` first) and one went over the limit."""
    return getattr(request, TOO_LARGE, False)
