"""Shoppers' answers to recommendations ("good match" / "not this"), kept as social data for retraining."""

from __future__ import annotations

import uuid
from collections import Counter

from django.db import IntegrityError, transaction

from catalog.models import Product
from catalog.services.coviews import session_hashes
from recommender.models import InspirationUpload, RecommendationFeedback

Context = RecommendationFeedback.Context
Verdict = RecommendationFeedback.Verdict


class FeedbackRejected(Exception):
    """Bad input: ``message`` says what is wrong."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_feedback(
    *, source: str | None, recommended: str | None, context: str | None, upload: str | None, verdict: str | None
) -> dict:
    """Form or JSON values (skus, an upload id) -> the keyword arguments of ``feedback_record``."""
    if context not in Context.values:
        raise FeedbackRejected(f"context must be one of {', '.join(Context.values)}.")
    if verdict not in Verdict.values:
        raise FeedbackRejected(f"verdict must be one of {', '.join(Verdict.values)}.")
    recommended_product = Product.objects.filter(sku=recommended or "", is_active=True).first()
    if recommended_product is None:
        raise FeedbackRejected("recommended must be the sku of a product.")
    source_product, source_upload = None, None
    if context == Context.UPLOAD:
        try:
            source_upload = InspirationUpload.objects.filter(pk=uuid.UUID(str(upload or ""))).first()
        except ValueError:
            source_upload = None
        if source_upload is None:
            raise FeedbackRejected("upload must be the id of an upload.")
    else:
        source_product = Product.objects.filter(sku=source or "").first()
        if source_product is None:
            raise FeedbackRejected("source must be the sku of a product.")
        if source_product == recommended_product:
            raise FeedbackRejected("source and recommended must be different products.")
    return {
        "source": source_product,
        "upload": source_upload,
        "recommended": recommended_product,
        "context": context,
        "verdict": verdict,
    }


def feedback_record(
    *,
    session_key: str,
    recommended: Product,
    context: str,
    verdict: str,
    source: Product | None = None,
    upload: InspirationUpload | None = None,
) -> RecommendationFeedback:
    """Store the session's answer about ``recommended`` for ``source`` (or ``upload``) in ``context``. Answering
    again changes the answer: one row per session, source, recommended product and context."""
    keys = session_hashes(session_key)  # an answer given before hashes stopped depending on SECRET_KEY is found too
    lookup = {"recommended": recommended, "context": context}
    lookup.update({"upload": upload} if context == Context.UPLOAD else {"source": source, "upload": None})
    for attempt in range(2):
        try:
            with transaction.atomic():
                answers = RecommendationFeedback.objects.select_for_update().filter(**lookup, session_hash__in=keys)
                feedback = answers.order_by("-updated_at").first()
                if feedback is None:
                    feedback = RecommendationFeedback(
                        **{"source": source, **lookup}, session_hash=keys[0], verdict=verdict
                    )
                    feedback.full_clean(validate_constraints=False)
                    feedback.save()
                elif feedback.verdict != verdict or feedback.session_hash != keys[0]:
                    feedback.verdict, feedback.session_hash = verdict, keys[0]
                    feedback.save(update_fields=["verdict", "session_hash", "updated_at"])
                return feedback
        except IntegrityError:  # the same session answered twice at once: the second one updates
            if attempt:
                raise
    raise AssertionError("unreachable")


def feedback_of_session(*, session_key: str | None, context: str, source=None, upload=None) -> dict[int, str]:
    """{recommended product id: verdict} the session has given for one source, to show as pressed buttons."""
    if not session_key:
        return {}
    rows = RecommendationFeedback.objects.filter(session_hash__in=session_hashes(session_key), context=context)
    rows = rows.filter(upload=upload) if context == Context.UPLOAD else rows.filter(source=source)
    return dict(rows.values_list("recommended_id", "verdict"))


def feedback_training_pairs() -> list[tuple[int, int, int]]:
    """ "Good match" answers on "goes well with" between two active products, as extra pairs for the goes-with
    head: (lower product id, higher product id, number of answers). Answers on "similar" say two products look
    alike, not that they go together, so they never train "goes with"; answers about uploads have no product
    source."""
    answers = RecommendationFeedback.objects.filter(
        verdict=Verdict.GOOD,
        context=Context.GOES_WITH,
        source__is_active=True,
        recommended__is_active=True,
    ).values_list("source_id", "recommended_id")
    counts = Counter(tuple(sorted(pair)) for pair in answers)
    return [(a, b, count) for (a, b), count in sorted(counts.items())]
