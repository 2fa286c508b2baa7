"""A progress bar for management commands: tqdm on stderr, quiet when verbosity is 0."""

from collections.abc import Iterable

from tqdm import tqdm


def progress_bar(*, description: str, verbosity: int):
    def wrap(items: Iterable) -> Iterable:
        return tqdm(items, desc=description, unit="item", disable=verbosity == 0, dynamic_ncols=True)

    return wrap


def print_skipped(stdout, skipped: list[tuple[str, str]], *, limit: int = 50) -> None:
    for line, reason in skipped[:limit]:
        stdout.write(f"  skipped {line}: {reason}")
    if len(skipped) > limit:
        stdout.write(f"  … and {len(skipped) - limit} more skipped rows")
