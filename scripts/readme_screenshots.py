"""The README's screenshots, taken from a running demo (`make demo`) the way a shopper and staff see it.

    .venv/bin/python scripts/readme_screenshots.py --url http://127.0.0.1:8000 --photo PATH [--password-file F]

It uploads PATH through the home page in Debian's Chromium, waits for the results, then opens the first
result's product page, the catalog map and (when a staff password is given) an encoder version in admin,
and writes each page to docs/screenshots/: demo-results.png, demo-product.png, demo-map.png,
demo-phone-results.png (375 px) and admin-encoder.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--no-first-run"]


def upload(page, url: str, photo: Path) -> str:
    """Upload ``photo`` from the home page and wait until the results are shown; returns the results URL."""
    page.goto(url + "/")
    page.set_input_files("#image", str(photo))
    page.locator("#preview-image").wait_for()
    page.click("#upload-submit")
    page.locator("#results .card").first.wait_for(timeout=120_000)
    page.wait_for_load_state("networkidle")
    return page.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--photo", type=Path, required=True, help="a shopper's photo to upload")
    parser.add_argument("--password-file", type=Path, default=ROOT / "var" / "demo-admin-password")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    url = args.url.rstrip("/")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        desktop = browser.new_page(viewport={"width": 1280, "height": 900})
        results = upload(desktop, url, args.photo)
        desktop.screenshot(path=OUT / "demo-results.png")

        desktop.locator("#results .card a").first.click()
        desktop.wait_for_load_state("networkidle")
        desktop.screenshot(path=OUT / "demo-product.png")

        desktop.goto(url + "/map/")
        desktop.wait_for_load_state("networkidle")
        desktop.wait_for_timeout(1500)  # the first tiles' pictures
        desktop.screenshot(path=OUT / "demo-map.png")

        phone = browser.new_page(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
        phone.goto(results)
        phone.locator("#results .card").first.wait_for()
        phone.wait_for_load_state("networkidle")
        phone.screenshot(path=OUT / "demo-phone-results.png")

        if args.password_file.exists():
            desktop.goto(url + "/admin/login/?next=/admin/encoders/encoderversion/")
            desktop.get_by_label("Username").fill("admin")
            desktop.get_by_label("Password").fill(args.password_file.read_text().strip())
            desktop.get_by_role("button", name="Log in").click()
            desktop.wait_for_url("**/admin/encoders/encoderversion/")
            desktop.locator("#result_list tbody a").first.click()
            desktop.wait_for_load_state("networkidle")
            desktop.screenshot(path=OUT / "admin-encoder.png", full_page=True)
        browser.close()
    for name in sorted(OUT.glob("*.png")):
        print(name.relative_to(ROOT))


if __name__ == "__main__":
    main()
