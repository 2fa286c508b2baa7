"""Co-view data: which products are viewed together in one browsing session."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from catalog.models import CoView, Product, ProductView


def session_hash(session_key: str) -> str:
    """Session keys are never stored: a keyed hash links the views of one session and nothing more."""
    return salted_hmac("lookalike.coview.session", session_key).hexdigest()


def coview_window() -> timedelta:
    return timedelta(minutes=settings.COVIEW_WINDOW_MINUTES)


def _pair_increment(*, a_id: int, b_id: int, seen_at: datetime) -> None:
    low, high = sorted((a_id, b_id))
    updated = CoView.objects.filter(product_a_id=low, product_b_id=high).update(count=F("count") + 1, last_seen=seen_at)
    if updated:
        return
    try:
        with transaction.atomic():
            CoView.objects.create(product_a_id=low, product_b_id=high, count=1, last_seen=seen_at)
    except IntegrityError:  # another session created the pair meanwhile
        CoView.objects.filter(product_a_id=low, product_b_id=high).update(count=F("count") + 1, last_seen=seen_at)


def _within(first: datetime, second: datetime, window: timedelta) -> bool:
    return abs(first - second) <= window


@transaction.atomic
def coview_record(*, session_key: str, product: Product, viewed_at: datetime | None = None) -> list[int]:
    """Record that ``product`` was viewed in the session, and pair it with the other products viewed in the
    same session within the co-view window. A pair is counted once per session: only when this view is the
    first time the two products fall within one window of each other. Returns the ids of newly paired products.
    """
    viewed_at = viewed_at or timezone.now()
    window = coview_window()
    key = session_hash(session_key)
    # The products this view can pair with: the session's latest views within the window, a bounded number of
    # them, so the cost of a view does not grow with how much a session (or a bot) has browsed.
    recent = ProductView.objects.filter(
        session_hash=key, viewed_at__gte=viewed_at - window, viewed_at__lte=viewed_at + window
    ).exclude(product=product)
    candidates = set(
        recent.order_by("-viewed_at").values_list("product_id", flat=True)[: settings.COVIEW_SESSION_VIEWS]
    )
    # Their earlier views and this product's, to count each pair once per session.
    earlier = list(
        ProductView.objects.filter(session_hash=key, product_id__in=[product.pk, *candidates]).values_list(
            "product_id", "viewed_at"
        )
    )
    ProductView.objects.create(session_hash=key, product=product, viewed_at=viewed_at)

    own_times = [at for product_id, at in earlier if product_id == product.pk]
    times_by_product: dict[int, list[datetime]] = {}
    for product_id, at in earlier:
        if product_id != product.pk:
            times_by_product.setdefault(product_id, []).append(at)

    paired = []
    for other_id, other_times in times_by_product.items():
        in_window_now = any(_within(viewed_at, at, window) for at in other_times)
        counted_before = any(_within(own, at, window) for own in own_times for at in other_times)
        if in_window_now and not counted_before:
            _pair_increment(a_id=product.pk, b_id=other_id, seen_at=viewed_at)
            paired.append(other_id)
    return paired
