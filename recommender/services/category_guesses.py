"""What an answered photo looks like, by the encoder's category head (``InspirationUpload.categories``, kept by the
worker by the catalog's category slugs: the encoder knows categories by name, as it was trained), and the
one-click switch between those categories on the results page. Switching applies a category filter through the
results page's own refine mechanism (``?category=&max_price=&colour=``), so nothing is uploaded again."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.conf import settings

from catalog.models import Category
from recommender.models import InspirationUpload
from recommender.services.search import Filters

# A next guess less likely than this is noise, not an alternative worth a click.
MIN_ALTERNATIVE_PROBABILITY = 0.02
ALTERNATIVES = 2  # the 2nd and 3rd guesses


def category_guess(probabilities: dict[str, float]) -> list[dict]:
    """The head's distribution (category name -> probability) -> ``[{"slug", "probability"}]`` over the categories
    the catalog still has, most likely first. All of them are kept (pages show the first CATEGORY_GUESSES): the
    ranking reads the whole distribution, as the evaluation does. One query."""
    return category_guess_batch([probabilities])[0]


def category_guess_batch(distributions: list[dict[str, float]]) -> list[list[dict]]:
    """``category_guess`` of each distribution (the photos of one backbone batch), with one query for all."""
    names = {name for probabilities in distributions for name in probabilities}
    slugs = dict(Category.objects.filter(name__in=names).values_list("name", "slug"))
    return [
        [
            {"slug": slugs[name], "probability": round(p, 4)}
            for name, p in sorted(probabilities.items(), key=lambda item: -item[1])
            if name in slugs
        ]
        for probabilities in distributions
    ]


def guess_of(categories: list[dict] | None) -> dict[str, float]:
    """An upload's stored guess -> category slug -> probability (what the ranking reads)."""
    return {row["slug"]: float(row["probability"]) for row in categories or []}


@dataclass(frozen=True)
class CategoryGuess:
    category: Category
    probability: float

    @property
    def slug(self) -> str:
        return self.category.slug

    @property
    def label(self) -> str:
        return self.category.label

    @property
    def percent(self) -> int:
        """The probability as a whole percent, as shoppers read it."""
        return round(self.probability * 100)


@dataclass(frozen=True)
class CategoryChoice:
    """One link of the switch: its category (None for "All categories") and the filters it applies."""

    guess: CategoryGuess | None
    filters: Filters


@dataclass(frozen=True)
class CategoryLine:
    """The "Looks like" line above the results. ``shown`` is the category the results are filtered to (None when
    they are not); ``choices`` are the links to switch (none when the upload's vector cannot be searched again)."""

    top: CategoryGuess
    shown: Category | None
    shown_guess: CategoryGuess | None
    choices: list[CategoryChoice] = field(default_factory=list)

    @property
    def shows_top(self) -> bool:
        return self.shown is not None and self.shown.slug == self.top.slug


def _stored_guesses(upload: InspirationUpload) -> list[tuple[str, float]]:
    """The worker's guesses of a done upload as (slug, probability), most likely first, at most CATEGORY_GUESSES;
    rows that are not a slug with a number are left out rather than breaking the page."""
    if upload.status != InspirationUpload.Status.DONE:
        return []
    guesses = []
    for row in (upload.categories or [])[: settings.CATEGORY_GUESSES]:
        if not isinstance(row, dict):
            continue
        slug, probability = row.get("slug"), row.get("probability")
        if isinstance(slug, str) and isinstance(probability, (int, float)) and not isinstance(probability, bool):
            guesses.append((slug, float(probability)))
    return guesses


def _categories_by_slug(slugs: list[str]) -> dict[str, Category]:
    """One query, whatever the number of slugs (none when there are none)."""
    wanted = sorted({slug for slug in slugs if slug})
    return Category.objects.in_bulk(wanted, field_name="slug") if wanted else {}


def _known_guesses(stored: list[tuple[str, float]], categories: dict[str, Category]) -> list[CategoryGuess]:
    """The guesses whose category is in the catalog, in stored order (a category deleted since is left out)."""
    return [CategoryGuess(categories[slug], probability) for slug, probability in stored if slug in categories]


def category_guesses(*, upload: InspirationUpload) -> list[CategoryGuess]:
    """What the photo looks like, most likely first; empty when the encoder has no category head or the upload is
    not done. One query at most."""
    stored = _stored_guesses(upload)
    return _known_guesses(stored, _categories_by_slug([slug for slug, _ in stored]))


def category_line(*, upload: InspirationUpload, filters: Filters, can_refine: bool) -> CategoryLine | None:
    """The line for a results page answering ``filters``; None when nothing is known of the photo's category.

    Unfiltered, it offers the next likely categories (each at least MIN_ALTERNATIVE_PROBABILITY); filtered to a
    category, the top guess (unless that is the one shown, then the next ones) and "All categories". Each link
    keeps the page's price and colour filters and changes only the category. One query at most."""
    stored = _stored_guesses(upload)
    if not stored:
        return None  # and no query: most uploads of an encoder without a category head
    categories = _categories_by_slug([slug for slug, _ in stored] + [filters.category])
    guesses = _known_guesses(stored, categories)
    if not guesses:
        return None
    top = guesses[0]
    shown = categories.get(filters.category) if filters.category else None
    shown_guess = next((guess for guess in guesses if shown is not None and guess.slug == shown.slug), None)
    line = CategoryLine(top=top, shown=shown, shown_guess=shown_guess)
    if not can_refine:
        return line
    alternatives = [
        guess for guess in guesses[1 : 1 + ALTERNATIVES] if guess.probability >= MIN_ALTERNATIVE_PROBABILITY
    ]
    if shown is None:
        offered = alternatives
    elif line.shows_top:
        offered = [*alternatives, None]
    else:
        offered = [top, None]
    choices = [CategoryChoice(guess, _with_category(filters, guess.slug if guess else "")) for guess in offered]
    return replace(line, choices=choices)


def _with_category(filters: Filters, category: str) -> Filters:
    return Filters(category=category, max_price=filters.max_price, same_colour=filters.same_colour)
