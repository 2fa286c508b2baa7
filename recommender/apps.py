from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "recommender"

    def ready(self) -> None:
        from catalog.signals import product_changed

        product_changed.connect(enqueue_product_encode, dispatch_uid="recommender.encode_product")


def enqueue_product_encode(sender, product_id: int, **kwargs) -> None:
    """Called after the transaction that changed the product committed."""
    from recommender.tasks import encode_product

    try:
        encode_product.delay(product_id)
    except Exception:  # the broker is down: the nightly retrain re-encodes every product anyway
        import logging

        logging.getLogger(__name__).exception("could not enqueue encode_product(%s)", product_id)
