from django.core.management.base import BaseCommand, CommandError

from encoders.models import EncoderVersion
from encoders.versions import encoder_activate


class Command(BaseCommand):
    help = "Make an encoder version the live one."

    def add_arguments(self, parser):
        parser.add_argument("version", help="the version's name (see admin or train_encoder's output)")

    def handle(self, *args, version, **options):
        found = EncoderVersion.objects.filter(name=version).first()
        if found is None:
            raise CommandError(f"no encoder version named {version!r}")
        try:
            encoder_activate(version=found)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"{found.name} is now the live encoder."))
