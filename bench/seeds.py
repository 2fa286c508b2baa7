"""The encoder's figures over several training seeds: each figure's mean ± standard deviation, the README's
headline row (one training run's figure moves with its seed as much as with many a change of the method).

    python bench/seeds.py --seeds 0,1,2                  # trains one version per seed (train_encoder --seed N)
    python bench/seeds.py --versions enc-A,enc-B,enc-C   # summarises versions already trained and measured

Runs with the site's environment (DATABASE_URL, VAR_DIR, the evaluation data): training measures each version on
the dev queries as ``train_encoder`` does and stores its figures on it; nothing is activated. The configuration is
the default (``--set NAME=VALUE`` as ``train_encoder`` takes it, for every seed alike).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def mean_and_sd(values: list[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def seeds_table(versions: list, figures: list[str]) -> str:
    """A markdown table: one row per version (its seed, each figure), then the mean ± sd of each figure over
    them. Figures a version lacks are left out of the mean and shown as "–"."""
    lines = ["| version | seed | " + " | ".join(figures) + " | train s |", "|---|---|" + "---|" * (len(figures) + 1)]
    for version in versions:
        seed = (version.data or {}).get("seed", "?")
        cells = [f"{version.metrics[f]:.3f}" if f in version.metrics else "–" for f in figures]
        lines.append(f"| {version.name} | {seed} | " + " | ".join(cells) + f" | {version.train_seconds or 0:.0f} |")
    summary = []
    for figure in figures:
        values = [version.metrics[figure] for version in versions if figure in version.metrics]
        summary.append("{:.3f} ± {:.3f}".format(*mean_and_sd(values)) if values else "–")
    seconds = [version.train_seconds for version in versions if version.train_seconds]
    train = "{:.0f} ± {:.0f}".format(*mean_and_sd(seconds)) if seconds else "–"
    lines.append(f"| **mean ± sd over {len(versions)}** | | " + " | ".join(summary) + f" | {train} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seeds", help="train one version per seed, e.g. 0,1,2")
    group.add_argument("--versions", help="summarise these trained versions, e.g. enc-A,enc-B")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a config override")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from encoders.models import EncoderVersion
    from encoders.queries import FIGURES, HELD_OUT_FIGURES, PIECE_FIGURES, UNGATED_FIGURES

    if args.seeds:
        names = []
        for seed in [int(text) for text in args.seeds.split(",")]:
            before = set(EncoderVersion.objects.values_list("name", flat=True))
            call_command("train_encoder", seed=seed, set=args.set, verbosity=0)
            (name,) = set(EncoderVersion.objects.values_list("name", flat=True)) - before
            names.append(name)
    else:
        names = [name.strip() for name in args.versions.split(",") if name.strip()]
    found = {version.name: version for version in EncoderVersion.objects.filter(name__in=names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise SystemExit(f"no such encoder version: {', '.join(missing)}")
    versions = [found[name] for name in names]
    unmeasured = [version.name for version in versions if not version.metrics]
    if unmeasured:
        raise SystemExit(f"not measured (no evaluation data when trained?): {', '.join(unmeasured)}")
    figures = [
        figure
        for figure in [*FIGURES, *HELD_OUT_FIGURES, *PIECE_FIGURES]
        if figure not in UNGATED_FIGURES and any(figure in version.metrics for version in versions)
    ]
    print(seeds_table(versions, figures))


if __name__ == "__main__":
    main()
