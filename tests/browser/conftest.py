"""Browser tests: Playwright drives Debian's Chromium against a live server and a real Celery worker on Redis.

Playwright's sync API runs an event loop in this thread, so Django's "async unsafe" guard would refuse the
database calls that tests and fixtures make here; they are plain synchronous calls, so the guard is lifted.
"""

import os
from pathlib import Path

import pytest

from tests.conftest import services_required
from tests.encoders.helpers import tiny_config
from tests.recommender.conftest import (  # noqa: F401  (fixtures)
    catalog_products,
    fresh_index_cache,
    served,
    tiny_checkpoint,
)
from tests.recommender.worker import Worker, broker_url, use_broker

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session, on a fresh temporary user-data dir that Playwright creates and removes;
    each test gets a new browser context of its own (no cookies or storage carried over)."""
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if services_required():
            pytest.fail(message + " and REQUIRE_SERVICES=1")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _page_on_the_live_server(browser, live_server, settings, **context_options):
    """A page in a browser context of its own on the live server; the test fails on a JavaScript error."""
    settings.ROOT_URLCONF = "tests.browser.urls"
    context = browser.new_context(base_url=live_server.url, **context_options)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser, live_server, settings):
    """A page on the live server, in a browser context of its own."""
    yield from _page_on_the_live_server(browser, live_server, settings, viewport=DESKTOP)


@pytest.fixture
def phone(browser, live_server, settings):
    """A page in a phone's browser context of its own: 375 px, touch, no hover."""
    yield from _page_on_the_live_server(browser, live_server, settings, viewport=PHONE, is_mobile=True, has_touch=True)


@pytest.fixture
def worker(redis_url, live_server, tmp_path, eager_celery):
    """A real Celery worker on the real Redis, sharing the test database and folders."""
    real = Worker(
        broker=broker_url(redis_url, database=13),
        log=tmp_path / "worker.log",
        encoder_config=tiny_config(epochs=3).to_dict(),
        concurrency=1,
    )
    restore = use_broker(eager_celery, real.broker)
    real.start()
    yield real
    real.stop()
    restore()


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def staff_sign_in(page, django_user_model, *, next_url: str = "/admin/") -> None:
    """A new superuser "staff" signs in on the admin's login page and lands on ``next_url``."""
    django_user_model.objects.create_user("staff", password="a-long-staff-password", is_staff=True, is_superuser=True)
    page.goto(f"/admin/login/?next={next_url}")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("a-long-staff-password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_url}")
