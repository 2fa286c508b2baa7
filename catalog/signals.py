"""What the catalog tells the rest of the project. It never imports models or indexes itself."""

from django.db import transaction
from django.dispatch import Signal

# Sent after the transaction that changed a product commits; kwargs: product_id.
product_changed = Signal()


def notify_product_changed(*, product_id: int) -> None:
    transaction.on_commit(lambda: product_changed.send(sender="catalog", product_id=product_id))
