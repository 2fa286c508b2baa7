import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.importers.csv_files import read_csv_catalog
from catalog.importers.ikea import read_ikea_catalog
from catalog.importers.sweethome3d import read_sweethome3d
from catalog.management.progress import print_skipped, progress_bar
from catalog.services.imports import catalog_import


def read_catalog(path: Path):
    if path.is_dir() and (path / "catalog.json").is_file():
        return read_ikea_catalog(path)
    if path.suffix.lower() == ".sh3f" or (path.is_dir() and any(path.glob("*.sh3f"))):
        return read_sweethome3d(path)
    if path.suffix.lower() == ".csv":
        return read_csv_catalog(path)
    raise CommandError(
        f"{path}: not a catalog Lookalike can read. Give a folder with catalog.json (IKEA), "
        "a Sweet Home 3D .sh3f file or a folder of them, or a CSV with columns "
        "sku,name,category,price,description,image."
    )


class Command(BaseCommand):
    help = "Import products with their images from an IKEA folder, Sweet Home 3D .sh3f files, or a CSV."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path: Path, verbosity: int, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        started = time.monotonic()
        try:
            records = read_catalog(path)
        except ValueError as error:
            raise CommandError(str(error)) from error
        summary = catalog_import(
            records=records, progress=progress_bar(description="Importing products", verbosity=verbosity)
        )
        print_skipped(self.stdout, summary.skipped)
        left_out = f", left out {summary.left_out} that are not furniture" if summary.left_out else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}, "
                f"skipped {len(summary.skipped)}{left_out} in {time.monotonic() - started:.1f} s."
            )
        )
