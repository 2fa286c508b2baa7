"""Staff's word on "goes well with": pinned and excluded pairs of products, and categories that never go
together. Serving and training read it (``catalog.selectors``); this module writes it."""

from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from catalog.models import CategoryComplementExclusion, ComplementCuration, Product
from catalog.selectors import CATEGORY_EXCLUSIONS_CACHE_KEY


def _pair(first_id: int, second_id: int) -> Q:
    return Q(product_id=first_id, other_id=second_id) | Q(product_id=second_id, other_id=first_id)


@transaction.atomic
def complement_curate(*, product: Product, other: Product, action: str) -> ComplementCuration:
    """Pin or exclude the pair ``product``–``other`` (either way round): a pair has one curation, and curating
    it again changes its action."""
    curation = ComplementCuration.objects.select_for_update().filter(_pair(product.pk, other.pk)).first()
    if curation is None:
        curation = ComplementCuration(product=product, other=other, action=action)
        curation.full_clean()
        curation.save()
    elif curation.action != action:
        curation.action = action
        curation.full_clean()
        curation.save(update_fields=["action"])
    return curation


def category_exclusions_changed() -> None:
    """Forget the cached set of excluded category pairs now and again once the change is committed (a request
    in between may have cached the old set). A process with a cache of its own (no Redis) forgets it within
    ``CATEGORY_EXCLUSIONS_CACHE_SECONDS``."""
    cache.delete(CATEGORY_EXCLUSIONS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CATEGORY_EXCLUSIONS_CACHE_KEY))


@transaction.atomic
def category_exclusion_save(*, exclusion: CategoryComplementExclusion) -> CategoryComplementExclusion:
    exclusion.full_clean()
    exclusion.save()
    category_exclusions_changed()
    return exclusion


@transaction.atomic
def category_exclusions_delete(*, exclusion_ids: list[int]) -> int:
    deleted, _ = CategoryComplementExclusion.objects.filter(pk__in=exclusion_ids).delete()
    category_exclusions_changed()
    return deleted
