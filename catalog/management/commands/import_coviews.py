import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.importers.csv_files import COVIEW_FORMATS, read_csv_coviews
from catalog.importers.ikea import read_ikea_rooms
from catalog.management.progress import print_skipped, progress_bar
from catalog.services.imports import CoviewImportSummary, coview_import


class Command(BaseCommand):
    help = (
        "Import co-view data. Its kind follows from the file: an IKEA rooms.json (each room's products were used "
        f"together), or a CSV of {COVIEW_FORMATS}."
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
                records, left_out = read_ikea_rooms(path, split=split)
                unit = "rooms"
            elif path.suffix.lower() == ".csv":
                if split:
                    raise CommandError("--split applies to rooms.json only")
                unit, records = read_csv_coviews(path)
            else:
                raise CommandError(f"{path}: expected a rooms.json or a .csv of {COVIEW_FORMATS}")
        except ValueError as error:
            raise CommandError(str(error)) from error
        summary = coview_import(
            records=records, progress=progress_bar(description=f"Importing {unit}", verbosity=verbosity)
        )
        print_skipped(self.stdout, summary.skipped)
        filtered = f", {left_out} outside split {split!r}" if split else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {_imported(summary, unit)}; already imported {summary.already_imported}"
                f"{filtered}; skipped {len(summary.skipped)} in {time.monotonic() - started:.1f} s."
            )
        )


def _imported(summary: CoviewImportSummary, unit: str) -> str:
    if unit == "sessions":
        return (
            f"{summary.sessions} sessions as viewed together "
            f"({summary.views} views, {summary.pairs_counted} pair counts)"
        )
    moved = f", {summary.moved_from_viewed} of them moved from viewed together" if summary.moved_from_viewed else ""
    return f"{summary.groups} {unit} as used together ({summary.pairs_counted} pair counts{moved})"
