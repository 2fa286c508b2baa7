"""Co-view data, of two kinds: products viewed together in one browsing session (mostly alternatives to each
other), and products used together in one room, set or order (complements)."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from catalog.models import CoView, Product, ProductView, UsedTogetherGroup


def session_hash(session_key: str) -> str:
    """Session keys (and the keys of imported rooms, sets, orders and sessions) are never stored: a one-way hash
    links the views of one session, and tells an imported group already counted, and nothing more. It does not
    depend on SECRET_KEY: rotating the key must not make a catalog's rooms and orders count a second time when
    they are imported again."""
    return hashlib.sha256(f"lookalike.coview.session:{session_key}".encode()).hexdigest()


def session_hashes(session_key: str) -> tuple[str, str]:
    """The key's hash, then the hash it had before hashes stopped depending on SECRET_KEY (a keyed HMAC under the
    current key): an import recognises what it recorded under either."""
    return session_hash(session_key), salted_hmac("lookalike.coview.session", session_key).hexdigest()


def coview_window() -> timedelta:
    return timedelta(minutes=settings.COVIEW_WINDOW_MINUTES)


MAX_GROUP_PRODUCTS = 100  # a room, set or order pairs each of its products with every other: bounded work


def _pair_increment(*, a_id: int, b_id: int, seen_at: datetime, kind: str) -> None:
    low, high = sorted((a_id, b_id))
    pair = CoView.objects.filter(product_a_id=low, product_b_id=high, kind=kind)
    if pair.update(count=F("count") + 1, last_seen=seen_at):
        return
    try:
        with transaction.atomic():
            CoView.objects.create(product_a_id=low, product_b_id=high, kind=kind, count=1, last_seen=seen_at)
    except IntegrityError:  # another session created the pair meanwhile
        pair.update(count=F("count") + 1, last_seen=seen_at)


def _within(first: datetime, second: datetime, window: timedelta) -> bool:
    return abs(first - second) <= window


@transaction.atomic
def coview_record(*, session_key: str, product: Product, viewed_at: datetime | None = None) -> list[int]:
    """Record that ``product`` was viewed in the session, and pair it (as viewed together) with the other
    products viewed in the same session within the co-view window. A pair is counted once per session: only when
    this view is the first time the two products fall within one window of each other. Returns the ids of newly
    paired products.
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
            _pair_increment(a_id=product.pk, b_id=other_id, seen_at=viewed_at, kind=CoView.Kind.VIEWED)
            paired.append(other_id)
    return paired


def _viewed_session_undo(key_hashes: tuple[str, ...]) -> bool:
    """Take back what importing a group as one browsing session once recorded (before pairs had kinds, rooms
    were imported so): its views, and its one count on each pair of their products. Returns whether there
    was any."""
    views = ProductView.objects.filter(session_hash__in=key_hashes)
    product_ids = sorted(set(views.values_list("product_id", flat=True)))
    if not product_ids:
        return False
    pairs = CoView.objects.filter(kind=CoView.Kind.VIEWED, product_a_id__in=product_ids, product_b_id__in=product_ids)
    pairs.filter(count__lte=1).delete()
    pairs.filter(count__gt=1).update(count=F("count") - 1)
    views.delete()
    return True


def _group_pairs_increment(product_ids: list[int], seen_at: datetime) -> int:
    """Count each pair of ``product_ids`` once more as used together: three queries for the whole group."""
    wanted = set(combinations(sorted(product_ids), 2))
    pairs = CoView.objects.filter(kind=CoView.Kind.USED, product_a_id__in=product_ids, product_b_id__in=product_ids)
    existing = set(pairs.values_list("product_a_id", "product_b_id"))
    pairs.update(count=F("count") + 1, last_seen=seen_at)
    missing = sorted(wanted - existing)
    try:
        with transaction.atomic():
            CoView.objects.bulk_create(
                CoView(product_a_id=a, product_b_id=b, kind=CoView.Kind.USED, count=1, last_seen=seen_at)
                for a, b in missing
            )
    except IntegrityError:  # another import created some of them meanwhile: one by one
        for a, b in missing:
            _pair_increment(a_id=a, b_id=b, seen_at=seen_at, kind=CoView.Kind.USED)
    return len(wanted)


@dataclass(frozen=True)
class GroupRecorded:
    pairs: int  # pairs counted; 0 when the group was already recorded
    already_recorded: bool
    moved_from_viewed: bool  # the group had been imported as a browsing session, and is now used together


@transaction.atomic
def used_together_record(*, group_key: str, products: list[Product], seen_at: datetime | None = None) -> GroupRecorded:
    """Record that ``products`` were used together in one room, set or order named ``group_key``: each pair
    of them is counted once, as used together. A group is recorded once, whatever its products: recording it
    again changes nothing, so imports can be run again."""
    if len({product.pk for product in products}) > MAX_GROUP_PRODUCTS:
        raise ValueError(f"a room, set or order holds at most {MAX_GROUP_PRODUCTS} products")
    keys = session_hashes(group_key)
    if UsedTogetherGroup.objects.filter(key_hash=keys[1]).exists():  # recorded before hashes were unkeyed
        return GroupRecorded(pairs=0, already_recorded=True, moved_from_viewed=False)
    try:
        with transaction.atomic():
            UsedTogetherGroup.objects.create(key_hash=keys[0])
    except IntegrityError:
        return GroupRecorded(pairs=0, already_recorded=True, moved_from_viewed=False)
    moved = _viewed_session_undo(keys)
    pairs = _group_pairs_increment(sorted({product.pk for product in products}), seen_at or timezone.now())
    return GroupRecorded(pairs=pairs, already_recorded=False, moved_from_viewed=moved)
