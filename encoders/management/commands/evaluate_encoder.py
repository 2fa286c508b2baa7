import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from encoders.data import training_data
from encoders.evaluation import EncoderEmbedder, baseline_embedders, figures_of, markdown_table, query_scores
from encoders.intervals import RESAMPLES, figure_intervals
from encoders.lifecycle import encoder_held_out, encoder_load, held_out_fraction, served_finder
from encoders.models import EncoderVersion
from encoders.queries import load_query_set
from encoders.versions import active_encoder_version

PRETRAINED = "its backbone's pretrained features, no training"  # the row of the held-out baseline


class Command(BaseCommand):
    help = (
        "Measure an encoder version (default: the live one) on web photos and rooms over the whole active catalog: "
        "web P@10, loo P@10, room hit@10 and R@10, scene hit@10 and R@10 and, for an encoder with a category head, the "
        "room photos answered by their pieces (pieces hit@10, R@10, union R@10, piece precision, pieces per photo), "
        "each with its bootstrap 95 % interval over its queries."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names an encoder version here, in place of Django's own --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--queries", type=Path, required=True, help="one folder of photos per class + accept.json")
        parser.add_argument("--rooms", type=Path, required=True, help="a rooms.json; photos relative to it")
        parser.add_argument("--split", help="only rooms of this split (e.g. dev)")
        parser.add_argument("--version", help="an encoder version's name (default: the live one)")
        parser.add_argument("--baselines", action="store_true", help="also measure the reference baselines")
        parser.add_argument("--json", dest="json_out", type=Path, help="write the figures to this file as JSON")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--held-out",
            dest="held_out",
            type=float,
            nargs="?",
            const=-1.0,
            metavar="FRACTION",
            help=(
                "also train a model as the version was trained but without FRACTION of the products (default: "
                "EVALUATION_HOLDOUT) and print their held-out P@10 and held-out room hit@10 beside loo, with the "
                "pretrained features measured the same way; the figures are stored on the version (the gate reads "
                "them). Costs a training loop."
            ),
        )

    def handle(
        self, *args, queries, rooms, split, version, baselines, json_out: Path | None, seed, held_out, **options
    ):
        try:
            query_set = load_query_set(queries=queries, rooms=rooms, split=split)
            catalog = training_data().catalog
        except ValueError as error:
            raise CommandError(str(error)) from error
        embedders = {}
        target = EncoderVersion.objects.filter(name=version).first() if version else active_encoder_version()
        if version and target is None:
            raise CommandError(f"no encoder version named {version!r}")
        if target is not None:
            embedders[target.name] = EncoderEmbedder(encoder_load(target), finder=served_finder())
        elif not baselines:
            raise CommandError("no live encoder: give --version, or --baselines alone")
        if baselines:
            embedders.update(baseline_embedders(catalog, seed=seed))
        self.stdout.write(
            f"{len(catalog.images)} catalog products, {len(query_set.web_images)} web photos, "
            f"{len(query_set.rooms)} rooms, {len(query_set.scene_photos)} room photos"
        )
        scores = {name: query_scores(embedder, catalog, query_set) for name, embedder in embedders.items()}
        results = {name: figures_of(values) for name, values in scores.items()}
        intervals = {name: figure_intervals(values) for name, values in scores.items()}
        if held_out is not None:
            if target is None:
                raise CommandError("--held-out measures an encoder version: give --version or make one live")
            self._held_out(target, query_set, held_out, results, intervals)
        self.stdout.write(markdown_table(results, intervals))
        self.stdout.write(
            f"In brackets: the bootstrap 95 % interval of each figure ({RESAMPLES} resamples of its queries, seed 0)."
        )
        if json_out is not None:
            figures = {name: {**results[name], "intervals": intervals.get(name, {})} for name in results}
            json_out.write_text(json.dumps(figures, indent=2))

    def _held_out(self, target: EncoderVersion, query_set, fraction: float, results: dict, intervals: dict) -> None:
        """Measure and store ``target``'s held-out figures; add them, and the pretrained features' on the same
        queries, to the rows printed."""
        fraction = held_out_fraction() if fraction < 0 else fraction
        if not 0 < fraction < 1:
            raise CommandError(f"the held-out fraction must be above 0 and below 1, not {fraction}")
        figures = encoder_held_out(version=target, queries=query_set, fraction=fraction)
        if not figures:
            raise CommandError(f"no product can be held out of this catalog at {fraction:.0%} (a category keeps one)")
        held = target.data["held_out"]
        self.stdout.write(
            f"Held out {held['products']} products ({fraction:.0%} of each category); the held-out model trained on "
            f"{held['trained_on']} in {held['train_seconds']:.0f} s."
        )
        results[target.name].update(figures)
        intervals[target.name].update({name: target.intervals[name] for name in figures})
        results[PRETRAINED] = {name: target.baseline[name] for name in figures}
