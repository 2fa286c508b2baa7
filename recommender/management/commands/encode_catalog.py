from django.core.management.base import BaseCommand, CommandError

from catalog.management.progress import progress_bar
from encoders.models import EncoderVersion
from encoders.versions import active_encoder_version
from recommender.services.encoding import catalog_encode


class Command(BaseCommand):
    help = "Encode every active product that has no up-to-date vectors under the live (or given) encoder."

    def add_arguments(self, parser):
        parser.add_argument("--encoder", help="an encoder version's name (default: the live one)")

    def handle(self, *args, encoder, verbosity, **options):
        version = EncoderVersion.objects.filter(name=encoder).first() if encoder else active_encoder_version()
        if version is None:
            raise CommandError(f"no encoder version named {encoder!r}" if encoder else "no live encoder: train one")
        count = catalog_encode(
            version=version, progress=progress_bar(description="Encoding batches", verbosity=verbosity)
        )
        self.stdout.write(self.style.SUCCESS(f"Encoded {count} products with {version.name}."))
