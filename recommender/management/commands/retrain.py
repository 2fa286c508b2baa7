from django.core.management.base import BaseCommand, CommandError

from catalog.management.progress import StagedProgress
from encoders.versions import active_encoder_version
from recommender.services.retraining import quick_config, retrain_run


class Command(BaseCommand):
    help = (
        "Run the retraining pipeline now: train, evaluate, promote only if not worse, encode, index, switch. "
        "With --if-missing it runs only when no encoder is live (what `make demo` does on a first run)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="a short training configuration")
        parser.add_argument("--if-missing", action="store_true", help="do nothing if an encoder is already live")

    def handle(self, *args, quick, if_missing, **options):
        if if_missing and active_encoder_version() is not None:
            self.stdout.write(f"{active_encoder_version().name} is live; nothing to do.")
            return
        self.stdout.write("Training an encoder, then encoding the catalog and building the index…")
        progress = StagedProgress(options["verbosity"] > 0)
        try:
            run = retrain_run(trigger="command", config=quick_config() if quick else None, progress=progress)
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            progress.close()
        if run is None:
            raise CommandError("another retrain is running")
        self.stdout.write(f"Retrain {run.status}: {run.reason or run.error}")
        self.stdout.write("Timings: " + ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in run.timings.items()))
