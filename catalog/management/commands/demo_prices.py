from django.core.management.base import BaseCommand

from catalog.services.demo_prices import DEMO_PRICE_RANGES, demo_prices_apply


class Command(BaseCommand):
    help = (
        "Give the IKEA demo catalog's products (which have no prices) made-up prices per category, marked as demo "
        f"prices. Only products without a real price in these categories change: {', '.join(DEMO_PRICE_RANGES)}."
    )

    def handle(self, *args, **options):
        changed = demo_prices_apply()
        self.stdout.write(self.style.SUCCESS(f"Gave {changed} product(s) a demo price."))
