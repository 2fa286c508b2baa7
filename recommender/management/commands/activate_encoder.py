from django.core.management.base import BaseCommand, CommandError

from catalog.management.progress import StagedProgress
from encoders.models import EncoderVersion
from recommender.services.retraining import encoder_make_live


class Command(BaseCommand):
    help = (
        "Make an encoder version live exactly as a promotion does: encode the catalog under it, build its index, "
        "switch serving to both."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="the version's name (see admin or train_encoder's output)")

    def handle(self, *args, version, **options):
        found = EncoderVersion.objects.filter(name=version).first()
        if found is None:
            raise CommandError(f"no encoder version named {version!r}")
        progress = StagedProgress(options["verbosity"] > 0)
        try:
            run = encoder_make_live(version=found, trigger="command")
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            progress.close()
        if run is None:
            raise CommandError("a retrain (or another make-live) is running; try again when it has finished")
        self.stdout.write(
            self.style.SUCCESS(f"{found.name} is now the live encoder, served by {run.index_version.name}.")
        )
