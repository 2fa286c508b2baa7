import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import CoView, ProductView
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db


def run_import(path, *args) -> str:
    out = StringIO()
    call_command("import_coviews", str(path), *args, verbosity=0, stdout=out)
    return out.getvalue()


@pytest.fixture
def products():
    return {sku: ProductFactory(sku=sku) for sku in ["a", "b", "c", "d"]}


def pairs() -> dict[tuple[str, str], int]:
    return {
        (pair.product_a.sku, pair.product_b.sku): pair.count
        for pair in CoView.objects.select_related("product_a", "product_b")
    }


def write_rooms(tmp_path, rooms) -> str:
    path = tmp_path / "rooms.json"
    path.write_text(json.dumps(rooms))
    return path


def test_each_room_is_one_session_and_the_split_filters_rooms(tmp_path, products):
    path = write_rooms(
        tmp_path,
        [
            {"room": "r1", "items": ["a", "b", "c"], "photo": None, "split": "train"},
            {"room": "r2", "items": ["a", "b"], "photo": None, "split": "train"},
            {"room": "r3", "items": ["c", "d"], "photo": None, "split": "dev"},
        ],
    )

    output = run_import(path, "--split", "train")

    assert pairs() == {("a", "b"): 2, ("a", "c"): 1, ("b", "c"): 1}
    assert "Imported 2 sessions" in output
    assert "1 outside split 'train'" in output


def test_rooms_import_twice_adds_nothing(tmp_path, products):
    path = write_rooms(tmp_path, [{"room": "r1", "items": ["a", "b"], "split": "train"}])
    run_import(path)

    output = run_import(path)

    assert pairs() == {("a", "b"): 1}
    assert "already imported 1" in output


def test_unknown_skus_are_reported_and_the_rest_of_the_room_is_paired(tmp_path, products):
    path = write_rooms(tmp_path, [{"room": "r1", "items": ["a", "zzz", "b", "b"], "split": "train"}])

    output = run_import(path)

    assert pairs() == {("a", "b"): 1}
    assert "rooms.json room 1: unknown sku zzz" in output


def test_csv_view_log_uses_the_time_window_and_is_idempotent(tmp_path, products):
    path = tmp_path / "views.csv"
    path.write_text(
        "session_id,sku,viewed_at\n"
        "s1,a,2026-01-01T10:00:00Z\n"
        "s1,b,2026-01-01T10:10:00Z\n"
        "s1,c,2026-01-01T11:00:00Z\n"
        "s2,a,2026-01-01T10:00:00\n"
        "s2,b,2026-01-01T10:05:00\n"
        "s3,a,yesterday\n"
    )

    output = run_import(path)
    again = run_import(path)

    assert pairs() == {("a", "b"): 2}
    assert ProductView.objects.count() == 5
    assert "views.csv line 7: viewed_at 'yesterday' is not an ISO 8601 date and time" in output
    assert "Imported 0 sessions" in again


def test_a_file_of_another_kind_is_a_clear_error(tmp_path):
    path = tmp_path / "views.txt"
    path.write_text("hello")

    with pytest.raises(CommandError, match="expected a rooms.json"):
        run_import(path)
