"""What a shopper's photo looks like, as kept on the upload: the category head's most likely categories, by the
catalog's category slugs (the encoder knows categories by name, as it was trained)."""

from __future__ import annotations

from django.conf import settings

from catalog.models import Category


def category_guess(probabilities: dict[str, float]) -> list[dict]:
    """The head's distribution (category name -> probability) -> ``[{"slug", "probability"}]``, the
    CATEGORY_GUESSES most likely categories that are still in the catalog, most likely first. One query."""
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    slugs = dict(Category.objects.filter(name__in=[name for name, _ in ranked]).values_list("name", "slug"))
    guess = [{"slug": slugs[name], "probability": round(p, 4)} for name, p in ranked if name in slugs]
    return guess[: settings.CATEGORY_GUESSES]


def guess_of(categories: list[dict] | None) -> dict[str, float]:
    """An upload's stored guess -> category slug -> probability (what the ranking reads)."""
    return {row["slug"]: float(row["probability"]) for row in categories or []}
