"""Accessibility basics checked in the browser on every shopper page: labels, alt text, contrast, keyboard."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from recommender.services.uploads import parse_upload_request, upload_create
from tests.recommender.conftest import KINDS, draw, png

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Form controls without a label, images without alt text, and visible text whose contrast with the background
# behind it is under 4.5:1 (WCAG AA for body text).
AUDIT = """() => {
  const problems = [];
  for (const control of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    const labelled = control.labels?.length || control.getAttribute("aria-label")
      || control.getAttribute("aria-labelledby");
    if (!labelled) problems.push("no label: " + (control.id || control.name));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("no alt: " + img.src);
  }
  const rgb = text => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const colour = rgb(getComputedStyle(el).backgroundColor);
      if (colour.length === 3 || colour[3] > 0.9) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !el.checkVisibility()) continue;
    const style = getComputedStyle(el);
    if (style.opacity < 1 || el.closest("button:disabled, noscript, option")) continue;
    const [a, b] = [luminance(rgb(style.color).slice(0, 3)), luminance(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = walker.currentNode.textContent.trim().slice(0, 30);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)}: "${text}"`);
  }
  return problems;
}"""


@pytest.fixture
def pages(served):
    photo = SimpleUploadedFile("lamp.png", png(draw(KINDS[1][1], KINDS[1][2])), content_type="image/png")
    upload = upload_create(image=photo, request=parse_upload_request(crop=None, category=None, max_price=None))
    sofa = served["products"]["sofa"][0]
    return ["/", "/products/", sofa.get_absolute_url(), upload.get_absolute_url(), "/map/"]


def test_every_page_has_labels_alt_text_and_enough_contrast(page, pages):
    problems = {}
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        found = page.evaluate(AUDIT)
        if found:
            problems[url] = found

    assert not problems


def test_the_upload_form_works_from_the_keyboard_alone(page, served):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")  # to the main content, past the menu

    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # focus is visible

    assert order == ["image", "category", "max_price", "upload-submit"]
