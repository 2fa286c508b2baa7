"""Would the piece finder read room photos better with a category head taught on their windows? Measured on one
trained version, without training it again.

    python bench/piece_categories.py --version enc-A
    python bench/piece_categories.py --version enc-A --steps 300 --windows 128 --lr 1e-3

Runs with the site's environment (DATABASE_URL, VAR_DIR, the evaluation data). The category head is trained on
the catalog's clean shots; the piece finder reads windows of room photos with it. This applies the training stage
``encoders.piece_categories`` to a version, in memory (the version is not changed): the category head copied into
the piece head and tuned on ``--windows`` windows of each TRAIN room photo, with the kinds of the room's products as
weak labels, ``--steps`` Adam steps at ``--lr``. With ``--scene-steps`` the scene head is then tuned again on the
finder's windows as training's next stage does (``encoders.scene_windows``), since the windows it picks change. It
prints the dev room photos' pieces figures (as ``evaluate_encoder`` reports them) before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.dev_data import add_dev_data_arguments, measured_version, setup_django  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="a trained encoder version with a category head")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--windows", type=int, default=128, help="windows drawn of each TRAIN room photo")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--scene-steps", type=int, default=0, help="then tune the scene head on the new windows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--imagenet-weights", default="", help="also measure the tuned head with these shares of the ImageNet "
        "classifier's opinion (comma-separated; the finder's is PIECE_IMAGENET_WEIGHT)",
    )  # fmt: skip
    add_dev_data_arguments(parser)
    args = parser.parse_args(argv)

    setup_django()
    import torch

    from encoders import piece_finder
    from encoders.model import EncoderConfig
    from encoders.piece_categories import piece_head_on_windows
    from encoders.scene_windows import scene_head_on_windows

    torch.manual_seed(args.seed)
    version = measured_version(args)
    encoder, data, product_features, pieces_figures = (
        version.encoder, version.data, version.product_features, version.pieces_figures
    )  # fmt: skip
    catalog = data.catalog

    kinds = [(photo, sorted({catalog.categories[i] for i in products})) for photo, products in data.scene_photos]
    print(f"{args.version}: {len(kinds)} TRAIN room photos x {args.windows} windows, {args.split} room photos")
    print("\n| piece head | pieces hit@10 | pieces R@10 | pieces union R@10 | piece precision |")
    print("|---|---|---|---|---|")
    print(f"| as the version has it | {pieces_figures()} |")
    started = time.perf_counter()
    losses = piece_head_on_windows(
        encoder,
        kinds,
        product_features,
        catalog.categories,
        count=args.windows,
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
    )
    seconds = time.perf_counter() - started
    print(f"| tuned {args.steps} steps on {args.windows} windows a photo | {pieces_figures()} |")
    served_weight = piece_finder.PIECE_IMAGENET_WEIGHT
    for weight in [float(w) for w in args.imagenet_weights.split(",") if w]:
        piece_finder.PIECE_IMAGENET_WEIGHT = weight
        print(f"| the same, ImageNet's share {weight} | {pieces_figures()} |")
    piece_finder.PIECE_IMAGENET_WEIGHT = served_weight
    if args.scene_steps:
        opt = EncoderConfig().optimisation
        scene_head_on_windows(
            encoder, version.scene_photo_rows(), product_features, count=opt.scene_windows, steps=args.scene_steps,
            lr=opt.scene_window_lr, temperature=opt.temperature, seed=args.seed,
        )  # fmt: skip
        print(f"| and the scene head tuned {args.scene_steps} steps on the new windows | {pieces_figures()} |")
    print(f"\nThe stage took {seconds:.1f} s; its loss {losses[0]:.3f} -> {sum(losses[-20:]) / 20:.3f}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
