from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ProductRecord:
    """One product as a source file describes it. ``line`` says where, for error messages."""

    line: str
    sku: str
    name: str
    category: str
    image_name: str
    read_image: Callable[[], bytes]
    type: str = ""
    description: str = ""
    color: str = ""
    size: str = ""
    price: str = ""


@dataclass(frozen=True)
class BadRow:
    line: str
    reason: str


@dataclass(frozen=True)
class LeftOut:
    """An item the source has that this project does not import on purpose (not furniture): counted, not an error."""

    line: str
    reason: str


@dataclass(frozen=True)
class SessionRecord:
    """Views of one browsing session: its products were viewed together (alternatives, mostly). ``viewed_at``
    None means "all viewed at once": such a session is imported once as a whole; timed views are imported view by
    view."""

    line: str
    session_key: str
    views: list[tuple[str, str, datetime | None]]  # (line, sku, viewed_at)


@dataclass(frozen=True)
class GroupRecord:
    """The products of one room, set or order: they were used together (complements). A group is imported once,
    as a whole, each pair of its products counted once."""

    line: str
    group_key: str
    items: list[tuple[str, str]]  # (line, sku)
