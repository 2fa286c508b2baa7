import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.importers.csv_files import read_csv_views
from catalog.importers.ikea import read_ikea_rooms
from catalog.management.progress import print_skipped, progress_bar
from catalog.services.imports import coview_import


class Command(BaseCommand):
    help = (
        "Import co-view data: an IKEA rooms.json (one room = one browsing session) "
        "or a CSV of session_id,sku,viewed_at."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--split", help="rooms.json only: import only rooms of this split (e.g. train)")

    def handle(self, *args, path: Path, split: str | None, verbosity: int, **options):
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        started = time.monotonic()
        left_out = 0
        try:
            if path.suffix.lower() == ".json":
                sessions, left_out = read_ikea_rooms(path, split=split)
            elif path.suffix.lower() == ".csv":
                if split:
                    raise CommandError("--split applies to rooms.json only")
                sessions = read_csv_views(path)
            else:
                raise CommandError(f"{path}: expected a rooms.json or a .csv of session_id,sku,viewed_at")
        except ValueError as error:
            raise CommandError(str(error)) from error
        summary = coview_import(
            sessions=sessions, progress=progress_bar(description="Importing sessions", verbosity=verbosity)
        )
        print_skipped(self.stdout, summary.skipped)
        filtered = f", {left_out} outside split {split!r}" if split else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {summary.sessions} sessions ({summary.views} views, {summary.pairs_counted} pair counts); "
                f"already imported {summary.already_imported}{filtered}; skipped {len(summary.skipped)} "
                f"in {time.monotonic() - started:.1f} s."
            )
        )
