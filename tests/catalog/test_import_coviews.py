import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.models import CoView, ProductView
from catalog.services.coviews import coview_record
from tests.catalog.factories import ProductFactory

pytestmark = pytest.mark.django_db


def run_import(path, *args) -> str:
    out = StringIO()
    call_command("import_coviews", str(path), *args, verbosity=0, stdout=out)
    return out.getvalue()


@pytest.fixture
def products():
    return {sku: ProductFactory(sku=sku) for sku in ["a", "b", "c", "d"]}


def pairs(kind: str = CoView.Kind.USED) -> dict[tuple[str, str], int]:
    return {
        (pair.product_a.sku, pair.product_b.sku): pair.count
        for pair in CoView.objects.filter(kind=kind).select_related("product_a", "product_b")
    }


VIEWED = CoView.Kind.VIEWED


def write_rooms(tmp_path, rooms) -> str:
    path = tmp_path / "rooms.json"
    path.write_text(json.dumps(rooms))
    return path


def test_each_room_is_one_group_used_together_and_the_split_filters_rooms(tmp_path, products):
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
    assert pairs(VIEWED) == {}
    assert "Imported 2 rooms as used together (4 pair counts)" in output
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


def test_csv_view_log_is_viewed_together_uses_the_time_window_and_is_idempotent(tmp_path, products):
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

    assert pairs(VIEWED) == {("a", "b"): 2}
    assert pairs() == {}
    assert ProductView.objects.count() == 5
    assert "views.csv line 7: viewed_at 'yesterday' is not an ISO 8601 date and time" in output
    assert "Imported 0 sessions" in again


def test_a_file_of_another_kind_is_a_clear_error(tmp_path):
    path = tmp_path / "views.txt"
    path.write_text("hello")

    with pytest.raises(CommandError, match="expected a rooms.json"):
        run_import(path)


def test_rooms_orders_and_sessions_imported_again_after_the_secret_key_changed_count_once(tmp_path, products, settings):
    rooms = write_rooms(tmp_path, [{"room": "r1", "items": ["a", "b"], "split": "train"}])
    (tmp_path / "orders.csv").write_text("order_id,sku\n1,a\n1,c\n")
    (tmp_path / "sessions.csv").write_text("session_id,sku\ns1,b\ns1,d\n")
    for path in [rooms, tmp_path / "orders.csv", tmp_path / "sessions.csv"]:
        run_import(path)
    settings.SECRET_KEY = "a-rotated-secret-key"  # keys are rotated; the catalog's data is imported again

    again = [run_import(path) for path in [rooms, tmp_path / "orders.csv", tmp_path / "sessions.csv"]]

    assert pairs() == {("a", "b"): 1, ("a", "c"): 1}
    assert pairs(VIEWED) == {("b", "d"): 1}
    assert all("already imported 1" in output for output in again)


def test_groups_and_sessions_recorded_under_the_keyed_hash_of_earlier_releases_are_not_counted_again(
    tmp_path, products
):
    from django.utils import timezone
    from django.utils.crypto import salted_hmac

    from catalog.models import UsedTogetherGroup

    def keyed(key: str) -> str:  # how earlier releases stored a key: an HMAC under SECRET_KEY
        return salted_hmac("lookalike.coview.session", key).hexdigest()

    UsedTogetherGroup.objects.create(key_hash=keyed("ikea-room:r1"))
    now = timezone.now()
    CoView.objects.create(
        product_a=products["a"], product_b=products["b"], kind=CoView.Kind.USED, count=1, last_seen=now
    )
    for sku in ["c", "d"]:
        ProductView.objects.create(session_hash=keyed("csv:s1"), product=products[sku], viewed_at=now)
    CoView.objects.create(product_a=products["c"], product_b=products["d"], kind=VIEWED, count=1, last_seen=now)
    (tmp_path / "sessions.csv").write_text("session_id,sku\ns1,c\ns1,d\n")

    rooms = run_import(write_rooms(tmp_path, [{"room": "r1", "items": ["a", "b"], "split": "train"}]))
    sessions = run_import(tmp_path / "sessions.csv")

    assert pairs() == {("a", "b"): 1} and pairs(VIEWED) == {("c", "d"): 1}
    assert "already imported 1" in rooms and "already imported 1" in sessions


def test_a_session_csv_without_times_imports_viewed_together_pairs_once(tmp_path, products):
    path = tmp_path / "sessions.csv"
    path.write_text("session_id,sku\ns1,a\ns1,b\ns1,c\ns2,a\ns2,b\n")

    output = run_import(path)
    again = run_import(path)

    assert pairs(VIEWED) == {("a", "b"): 2, ("a", "c"): 1, ("b", "c"): 1}
    assert pairs() == {}
    assert "Imported 2 sessions as viewed together" in output
    assert "already imported 2" in again
    assert pairs(VIEWED)[("a", "b")] == 2


def test_an_order_csv_imports_used_together_pairs_once(tmp_path, products):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,sku,quantity\n1001,a,1\n1001,b,2\n1002,a,1\n1002,c,1\n1002,zzz,1\n,d,1\n")

    output = run_import(path)
    again = run_import(path)

    assert pairs() == {("a", "b"): 1, ("a", "c"): 1}
    assert pairs(VIEWED) == {}
    assert "Imported 2 orders as used together (2 pair counts)" in output
    assert "orders.csv line 6: unknown sku zzz" in output
    assert "orders.csv line 7: order_id and sku are required" in output
    assert "Imported 0 orders" in again and "already imported 2" in again


def test_the_same_pair_keeps_a_count_of_each_kind(tmp_path, products):
    (tmp_path / "orders.csv").write_text("order_id,sku\n1,a\n1,b\n")
    (tmp_path / "sessions.csv").write_text("session_id,sku\ns1,a\ns1,b\ns2,b\ns2,a\n")

    run_import(tmp_path / "orders.csv")
    run_import(tmp_path / "sessions.csv")

    assert pairs() == {("a", "b"): 1}
    assert pairs(VIEWED) == {("a", "b"): 2}


def test_rooms_imported_as_browsing_sessions_before_kinds_move_to_used_together(tmp_path, products):
    """What the migration cannot tell apart, importing the rooms again fixes: the room's views and its counts on
    viewed-together pairs are taken back, and its pairs counted as used together."""
    for sku in ["a", "b", "c"]:  # the room as the old import recorded it: one browsing session
        coview_record(session_key="ikea-room:r1", product=products[sku])
    coview_record(session_key="shopper", product=products["a"])  # a real browsing session stays
    coview_record(session_key="shopper", product=products["b"])
    path = write_rooms(tmp_path, [{"room": "r1", "items": ["a", "b", "c"], "split": "train"}])

    output = run_import(path)

    assert pairs() == {("a", "b"): 1, ("a", "c"): 1, ("b", "c"): 1}
    assert pairs(VIEWED) == {("a", "b"): 1}
    assert ProductView.objects.count() == 2
    assert "1 of them moved from viewed together" in output


@pytest.mark.parametrize(
    "header, message",
    [
        ("session_id,order_id,sku", "has both session_id and order_id; a file holds one kind"),
        ("basket,sku", r"expected the columns session_id,sku\[,viewed_at\] .* or order_id,sku .*; found basket,sku"),
        ("order_id,product", "missing column\\(s\\) sku; expected order_id,sku"),
        ("", "found none"),
    ],
)
def test_a_csv_of_no_known_kind_is_a_clear_error(tmp_path, header, message):
    path = tmp_path / "coviews.csv"
    path.write_text(header + "\n1,2,3\n" if header else "")

    with pytest.raises(CommandError, match=message):
        run_import(path)

    assert not CoView.objects.exists()


def test_an_order_larger_than_the_limit_is_skipped_with_its_line(tmp_path, settings):
    from catalog.services.coviews import MAX_GROUP_PRODUCTS

    rows = [ProductFactory(sku=f"p{n}").sku for n in range(MAX_GROUP_PRODUCTS + 1)]
    path = tmp_path / "orders.csv"
    path.write_text("order_id,sku\n" + "".join(f"big,{sku}\n" for sku in rows) + "small,p0\nsmall,p1\n")

    output = run_import(path)

    assert f"orders.csv line 2: a room, set or order holds at most {MAX_GROUP_PRODUCTS} products" in output
    assert pairs() == {("p0", "p1"): 1}


def planner_row_count(table: str) -> float | None:
    """How many rows the database's planner believes ``table`` holds (None: it has no statistics of it)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
            (rows,) = cursor.fetchone()
            return None if rows < 0 else rows
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return None
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [table])
        row = cursor.fetchone()
        return None if row is None else float(row[0].split()[0])


def test_an_import_leaves_the_planner_knowing_the_pairs_it_added(tmp_path, products):
    table = CoView._meta.db_table
    with connection.cursor() as cursor:  # the planner's belief before: the table as it was, empty
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    before = planner_row_count(table)
    path = write_rooms(tmp_path, [{"room": "r1", "items": ["a", "b", "c", "d"], "split": "train"}])

    run_import(path)

    assert not before  # 0 rows, or no statistics at all
    assert planner_row_count(table) == 6  # the six pairs of the room, without waiting for autovacuum
