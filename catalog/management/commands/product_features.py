import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.management.progress import print_skipped
from catalog.services.features import products_features_fill, products_missing_features


class Command(BaseCommand):
    help = (
        "Compute each product's picture hash, variant key (same name and type) and main colours (CIELAB), in "
        "batches. With --missing, only for products that lack one (after an upgrade); otherwise for all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--missing", action="store_true", help="only products with a feature not computed yet")
        parser.add_argument("--batch", type=int, default=500, help="products read and written at a time")

    def handle(self, *args, missing: bool, batch: int, verbosity: int, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        started = time.monotonic()
        total = products_missing_features().count() if missing else None
        with tqdm(total=total, desc="Computing features", unit="product", disable=verbosity == 0) as bar:
            summary = products_features_fill(missing_only=missing, batch_size=batch, progress=bar.update)
        print_skipped(self.stdout, summary.failed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Computed the features of {summary.updated} product(s), {len(summary.failed)} failed, "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
