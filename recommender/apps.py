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
    except Exception as error:  # the broker is down: the reconcile job (every ten minutes) encodes it instead
        import logging

        logging.getLogger(__name__).warning("could not enqueue encode_product(%s): %s", product_id, error)
