from django.core.management.base import BaseCommand, CommandError

from catalog.management.progress import StagedProgress
from encoders.data import evaluation_query_set
from encoders.evaluation import markdown_table
from encoders.lifecycle import encoder_held_out, encoder_train, held_out_fraction
from encoders.model import EncoderConfig

QUICK = {"epochs": 4, "wild_views": 1}


class Command(BaseCommand):
    help = "Train a new encoder version on the active catalog and its co-view pairs."

    def add_arguments(self, parser):
        parser.add_argument("--epochs", type=int, help="training epochs (default: the config's)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--quick", action="store_true", help="a short configuration, for a first demo")
        parser.add_argument("--no-evaluate", action="store_true", help="skip measuring on the dev queries")
        parser.add_argument(
            "--held-out",
            action="store_true",
            help=(
                "also train a second model without EVALUATION_HOLDOUT of the products and store their held-out "
                "P@10 and room hit@10 on the version (as retraining does; a second training loop)"
            ),
        )
        parser.add_argument(
            "--set", action="append", default=[], metavar="NAME=VALUE", help="override any EncoderConfig field"
        )

    def handle(self, *args, epochs, seed, quick, no_evaluate, held_out, set, verbosity, **options):
        config = EncoderConfig()
        if quick:
            config = config.replace(**QUICK)
        if epochs is not None:
            config = config.replace(epochs=epochs)
        config = config.replace(**parse_overrides(set))
        queries = None if no_evaluate else evaluation_query_set()
        progress = StagedProgress(verbosity > 0)
        if held_out and (queries is None or held_out_fraction() <= 0):
            raise CommandError("--held-out needs the evaluation data and EVALUATION_HOLDOUT above 0")
        try:
            version = encoder_train(config=config, seed=seed, progress=progress, queries=queries)
            if held_out:
                encoder_held_out(version=version, queries=queries, progress=progress)
        except ValueError as error:
            raise CommandError(str(error)) from error
        finally:
            progress.close()
        self.stdout.write(
            f"Trained {version.name} in {version.train_seconds:.0f} s on {version.data.get('products')} products "
            f"and {version.data.get('pairs')} co-view pairs."
        )
        if version.metrics:
            self.stdout.write(markdown_table({version.name: version.metrics}, {version.name: version.intervals}))
        elif queries is None and not no_evaluate:
            self.stdout.write("No evaluation data configured (EVALUATION_QUERIES, EVALUATION_ROOMS): not measured.")
        self.stdout.write(f"To serve it: python manage.py activate_encoder {version.name}")


def parse_overrides(pairs: list[str]) -> dict:
    """``NAME=VALUE`` pairs -> flat EncoderConfig overrides, each value of its field's type."""
    parts = EncoderConfig.field_parts()
    defaults = EncoderConfig().to_dict()
    overrides = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        if name not in parts:
            raise CommandError(f"unknown config field {name!r}; known: {', '.join(sorted(parts))}")
        kind = type(defaults[parts[name]][name])
        try:
            overrides[name] = text.lower() in {"1", "true", "yes"} if kind is bool else kind(text)
        except ValueError:
            raise CommandError(f"{name} must be a {kind.__name__}, got {text!r}")
    return overrides
