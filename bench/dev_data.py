"""What the benches that measure a trained version on the dev data share: where the data is, and Django set up
with the site's environment (DATABASE_URL, VAR_DIR)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def add_dev_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--queries (the web photos), --rooms (a rooms.json) and --split (the rooms measured on)."""
    parser.add_argument("--queries", type=Path, default=ROOT.parent / "shared/data/webphotos")
    parser.add_argument("--rooms", type=Path, default=ROOT.parent / "shared/data/ikea/rooms.json")
    parser.add_argument("--split", default="dev")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
