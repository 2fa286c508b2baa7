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


class StagedProgress:
    """A progress(stage, done, total, info) callback drawing one bar per stage, with a running loss if given."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int, info: dict) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage, self.bar = stage, tqdm(total=total, desc=stage, dynamic_ncols=True)
        self.bar.n = done
        if "loss" in info:
            self.bar.set_postfix(loss=f"{info['loss']:.4f}", epoch=info.get("epoch"))
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
