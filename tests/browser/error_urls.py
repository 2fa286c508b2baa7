"""The browser tests' URLs plus a page that fails, to see the 500 page a person gets."""

from django.urls import path

from tests.browser.urls import urlpatterns as browser_patterns


def broken(request):
    raise RuntimeError("a bug, on purpose")


urlpatterns = [path("broken/", broken), *browser_patterns]
