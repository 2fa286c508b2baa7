import numpy as np
import pytest

from catalog.services.products import product_create, products_set_active
from recommender import index as annoy_index
from recommender.services.encoding import product_encode
from recommender.services.indexing import index_build, index_root, serving_activate
from recommender.services.search import Filters, goes_with_products, serving_state, similar_products
from tests.recommender.conftest import draw, png

pytestmark = pytest.mark.django_db


def kinds(results, products):
    by_id = {p.pk: category for category, items in products.items() for p in items}
    return [by_id.get(pid, "new") for pid, _ in results]


def test_similar_products_are_the_same_kind_best_first_and_never_the_product_itself(served):
    sofa = served["products"]["sofa"][0]

    results = similar_products(product=sofa, k=3)

    assert kinds(results, served["products"]) == ["sofa", "sofa", "sofa"]
    assert sofa.pk not in [pid for pid, _ in results]
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)


def test_category_and_price_filters_work(served):
    sofa = served["products"]["sofa"][0]

    lamps = similar_products(product=sofa, k=10, filters=Filters(category="lamp"))
    cheap = similar_products(product=sofa, k=10, filters=Filters(max_price=200))

    assert kinds(lamps, served["products"]) == ["lamp"] * 4
    prices = {p.pk: p.price for items in served["products"].values() for p in items}
    assert len(cheap) == 5  # two of each kind cost 200 or less, minus the sofa itself
    assert all(prices[pid] <= 200 for pid, _ in cheap)


def test_a_filter_whose_matches_rank_far_down_is_answered_by_fetching_more(settings, tiny_checkpoint):
    """300 products look more like the query than the three of the filtered category: the first fetch (50) holds
    none of them, so the search must fetch more until it finds them."""
    from catalog.models import Category, Product
    from recommender.services.vectors import ProductVectors, vectors_store
    from tests.recommender.conftest import make_encoder_version

    near, rare = Category.objects.create(name="near", slug="near"), Category.objects.create(name="rare", slug="rare")
    products = Product.objects.bulk_create(
        [Product(sku=f"N{n}", name=f"N{n}", slug=f"n{n}", category=near, image="p.jpg") for n in range(301)]
        + [Product(sku=f"R{n}", name=f"R{n}", slug=f"r{n}", category=rare, image="p.jpg") for n in range(3)]
    )
    rng = np.random.default_rng(0)
    axis = np.eye(16, dtype=np.float32)[0]
    rows = []
    for n, product in enumerate(products):
        spread = 0.1 if n <= 300 else 1.5  # the rare ones are much further from the query's direction
        vector = axis + spread * rng.standard_normal(16).astype(np.float32)
        rows.append(ProductVectors(product.pk, "", vector / np.linalg.norm(vector), np.eye(8, dtype=np.float32)[0]))
    version = make_encoder_version(settings, tiny_checkpoint, name="enc-many")
    vectors_store(version=version, rows=rows)
    serving_activate(index_version=index_build(encoder_version=version))

    results = similar_products(product=products[0], k=3, filters=Filters(category="rare"))

    assert sorted(pid for pid, _ in results) == sorted(p.pk for p in products[301:])


def test_inactive_products_are_filtered_out_at_query_time(served):
    sofas = served["products"]["sofa"]
    products_set_active(product_ids=[sofas[1].pk], is_active=False)

    results = similar_products(product=sofas[0], k=10)

    assert sofas[1].pk not in [pid for pid, _ in results]


def test_a_product_encoded_after_the_build_is_found_through_the_fresh_set(served):
    lamp = served["products"]["lamp"][0]
    twin = product_create(
        sku="NEW-1", name="Twin lamp", category=lamp.category, image_data=png(draw((30, 60, 200), "round"))
    )
    product_encode(product_id=twin.pk, version=served["encoder"])

    results = similar_products(product=lamp, k=3)

    assert twin.pk in [pid for pid, _ in results]
    assert twin.pk not in serving_state().index


def test_queries_fall_back_to_exact_search_when_the_index_file_is_corrupt(served, settings):
    state = serving_state()
    path = state.index.path / annoy_index.space_file("similar")
    from recommender.services import search

    search._index_cache = None  # a process that starts after the damage
    path.write_bytes(b"\0" * path.stat().st_size)

    results = similar_products(product=served["products"]["rug"][0], k=3)

    assert serving_state().index is None
    assert kinds(results, served["products"]) == ["rug", "rug", "rug"]


def test_switching_to_a_new_index_is_atomic_and_keeps_the_old_version_for_readers(served):
    old = served["index"]

    new = serving_activate(index_version=index_build(encoder_version=served["encoder"]))

    assert annoy_index.active_version(index_root()) == new.name
    assert old.name in annoy_index.list_versions(index_root())
    assert serving_state().index.version == new.name


def test_goes_with_puts_products_used_together_first_and_skips_the_same_category(served):
    from catalog.models import CoView

    sofa, lamp, rug = served["products"]["sofa"][0], served["products"]["lamp"][2], served["products"]["rug"][3]
    CoView.objects.create(
        kind=CoView.Kind.USED,
        product_a=min(sofa, rug, key=lambda p: p.pk),
        product_b=max(sofa, rug, key=lambda p: p.pk),
        count=3,
        last_seen="2026-01-01T00:00Z",
    )
    CoView.objects.create(
        kind=CoView.Kind.USED,
        product_a=min(sofa, lamp, key=lambda p: p.pk),
        product_b=max(sofa, lamp, key=lambda p: p.pk),
        count=5,
        last_seen="2026-01-01T00:00Z",
    )

    results = goes_with_products(product=sofa, k=10)

    assert [pid for pid, _ in results][:2] == [lamp.pk, rug.pk]
    assert "sofa" not in kinds(results, served["products"])


def test_staff_see_when_the_active_index_cannot_be_loaded(served, admin_client, caplog):
    from recommender.services import search

    healthy = admin_client.get("/admin/recommender/indexversion/").content.decode()
    path = serving_state().index.path / annoy_index.space_file("similar")
    search._index_cache = None  # a process that starts after the file was deleted
    path.unlink()

    page = admin_client.get("/admin/recommender/indexversion/").content.decode()

    assert "cannot be loaded" not in healthy
    assert f"The active index {served['index'].name} cannot be loaded" in page
    assert "queries are answered by exact search" in page
    assert any("Cannot load index version" in record.message for record in caplog.records)


def test_goes_with_comes_from_its_own_index_and_switches_with_similar(served, settings):
    """Two encoder versions whose "goes with" spaces disagree: the answer follows the index that serves, and its
    similar answer switches at the same moment."""
    from encoders.models import EncoderVersion
    from recommender.services.vectors import ProductVectors, vectors_store
    from tests.recommender.conftest import make_encoder_version

    products = [p for items in served["products"].values() for p in items]
    sofa, lamp, rug = served["products"]["sofa"][0], served["products"]["lamp"][1], served["products"]["rug"][2]

    def version_pairing(name: str, partner) -> EncoderVersion:
        version = make_encoder_version(settings, tiny_checkpoint_path(), name=name)
        rows = []
        for n, product in enumerate(products):
            similar = np.eye(16, dtype=np.float32)[n % 16]
            goes_with = np.eye(8, dtype=np.float32)[1 + n % 7]
            if product in (sofa, partner):
                goes_with = np.eye(8, dtype=np.float32)[0]  # the sofa and its partner: one direction, alone
            rows.append(ProductVectors(product.pk, product.image_sha256, similar, goes_with))
        vectors_store(version=version, rows=rows)
        return version

    with_lamp = serving_activate(index_version=index_build(encoder_version=version_pairing("enc-lamp", lamp)))
    first_with_lamp = goes_with_products(product=sofa, k=1)
    with_rug = serving_activate(index_version=index_build(encoder_version=version_pairing("enc-rug", rug)))
    first_with_rug = goes_with_products(product=sofa, k=1)

    assert first_with_lamp[0][0] == lamp.pk and first_with_rug[0][0] == rug.pk
    assert serving_state().index.version == with_rug.name != with_lamp.name
    assert serving_state().index.has_space("goes_with")


def tiny_checkpoint_path():
    from encoders.models import EncoderVersion
    from encoders.versions import checkpoint_path

    return checkpoint_path(EncoderVersion.objects.get(name="enc-test"))


def test_a_query_reads_a_fixed_number_of_rows_whatever_the_catalog_size(served, django_assert_max_num_queries):
    sofa = served["products"]["sofa"][0]
    similar_products(product=sofa, k=5)  # the fresh set is loaded once per process

    with django_assert_max_num_queries(3):
        similar_products(product=sofa, k=5)


def fresh_batch(ids, similar, goes_with):
    from recommender.services.vectors import VectorBatch

    return VectorBatch(
        product_ids=np.asarray(ids, dtype=np.int64),
        similar=np.asarray(similar, dtype=np.float32),
        goes_with=np.asarray(goes_with, dtype=np.float32),
        revisions=np.arange(1, len(ids) + 1),
    )


def test_a_fresh_set_update_appends_new_products_and_replaces_rewritten_ones_the_last_write_winning():
    from recommender.services.search import FreshVectors

    first = FreshVectors().updated(fresh_batch([1, 2], [[1, 0], [0, 1]], [[1], [2]]))
    second = first.updated(fresh_batch([2, 3, 2], [[5, 5], [3, 3], [7, 7]], [[20], [30], [70]]))

    assert second.ids == (1, 2, 3)
    assert second.matrices["similar"].tolist() == [[1, 0], [7, 7], [3, 3]]
    assert second.matrices["goes_with"][second.rows[3]].tolist() == [30]
    assert first.matrices["similar"].tolist() == [[1, 0], [0, 1]]  # readers of the old snapshot are untouched


def test_a_large_fresh_set_adds_no_more_candidates_to_a_query_than_the_index_does(served, monkeypatch):
    from recommender.services import search

    state = serving_state()
    dimension = state.index.dimension_of("similar")
    rng = np.random.default_rng(0)
    many = 2_000  # written since the index was built, as a bulk edit leaves them
    snapshot = search.FreshVectors().updated(
        fresh_batch(
            np.arange(10**8, 10**8 + many),
            rng.standard_normal((many, dimension)),
            rng.standard_normal((many, state.index.dimension_of("goes_with"))),
        )
    )
    state.__dict__["fresh"] = snapshot  # the state's cached fresh set
    read = []
    real_allowed = search._allowed
    monkeypatch.setattr(search, "_allowed", lambda ids, *args: read.append(len(ids)) or real_allowed(ids, *args))

    search.search_vector(rng.standard_normal(dimension), k=12, state=state)

    assert read and max(read) <= 2 * max(50, 12 * 5) * 4  # this round's index and fresh candidates, never all 2,000


def _products_near_a_sofa(settings, tiny_checkpoint, *, guess, copy=False):
    """A sofa whose two nearest products are lamps, then two sofas; the sofa's stored category guess is ``guess``.
    With ``copy``, a sixth product, a sofa, lies nearer to it than anything (a copy of its picture)."""
    from catalog.models import Category, Product
    from recommender.services.vectors import ProductVectors, vectors_store
    from tests.recommender.conftest import make_encoder_version

    sofa, lamp = Category.objects.create(name="sofa", slug="sofa"), Category.objects.create(name="lamp", slug="lamp")
    kinds = [sofa, lamp, lamp, sofa, sofa] + ([sofa] if copy else [])
    products = Product.objects.bulk_create(
        [
            Product(sku=f"P{n}", name=f"P{n}", slug=f"p{n}", category=kind, image="p.jpg", image_sha256=f"h{n}")
            for n, kind in enumerate(kinds)
        ]
    )
    angles = [0.0, 0.1, 0.15, 0.4, 0.45, 0.02][: len(kinds)]  # radians from the sofa: the lamps are nearer
    version = make_encoder_version(settings, tiny_checkpoint, name="enc-guess")
    vectors_store(
        version=version,
        rows=[
            ProductVectors(
                product.pk,
                product.image_sha256,
                np.array([np.cos(a), np.sin(a), 0, 0], dtype=np.float32),
                np.eye(4, dtype=np.float32)[0],
                guess if n == 0 else {},
            )
            for n, (product, a) in enumerate(zip(products, angles, strict=True))
        ],
    )
    serving_activate(index_version=index_build(encoder_version=version))
    return products


def test_a_products_similar_items_lead_with_the_kind_its_picture_looks_like(settings, tiny_checkpoint):
    products = _products_near_a_sofa(settings, tiny_checkpoint, guess={"sofa": 0.9, "lamp": 0.05})

    results = similar_products(product=products[0], k=2)
    chosen = similar_products(product=products[0], k=2, filters=Filters(category="lamp"))

    assert [pid for pid, _ in results] == [products[3].pk, products[4].pk]
    assert [pid for pid, _ in chosen] == [products[1].pk, products[2].pk]  # a category chosen: that category


def test_a_products_page_whose_nearest_hold_too_few_of_its_kind_searches_its_kind_too(
    settings, tiny_checkpoint, monkeypatch
):
    """A sofa whose pool of nearest products holds only lamps (a pool of two here, of PRODUCT_CANDIDATE_POOL on a
    real catalog): its picture and the catalog agree it is a sofa, so the sofas nearest to it are searched too."""
    from recommender.services import search

    products = _products_near_a_sofa(settings, tiny_checkpoint, guess={"sofa": 0.9, "lamp": 0.05})
    monkeypatch.setattr(search, "PRODUCT_CANDIDATE_POOL", 2)

    results = similar_products(product=products[0], k=2)

    assert [pid for pid, _ in results] == [products[3].pk, products[4].pk]


def test_a_products_page_weighs_a_guess_that_agrees_with_the_catalog_more_than_a_photos_guess(
    settings, tiny_checkpoint
):
    """A guess of sofa 0.6, lamp 0.4 on the sofa's picture: a shopper's photo with that guess mixes the nearer lamp
    in (PRIOR_WEIGHT); the product page, where the catalog says sofa too, leads with the two sofas
    (PRODUCT_PRIOR_WEIGHT)."""
    from encoders.category_ranking import PRIOR_WEIGHT, PRODUCT_PRIOR_WEIGHT
    from recommender.services.category_search import category_search
    from recommender.services.search import product_vector

    guess = {"sofa": 0.6, "lamp": 0.4}
    products = _products_near_a_sofa(settings, tiny_checkpoint, guess=guess)
    state = serving_state()
    vector = product_vector(products[0].pk, state)

    as_a_photo = category_search(vector, k=2, filters=Filters(), guess=guess, state=state, exclude={products[0].pk})
    on_its_page = similar_products(product=products[0], k=2)

    assert PRODUCT_PRIOR_WEIGHT > PRIOR_WEIGHT
    assert [pid for pid, _ in as_a_photo] == [products[3].pk, products[1].pk]
    assert [pid for pid, _ in on_its_page] == [products[3].pk, products[4].pk]


def test_a_product_whose_picture_looks_like_another_kind_keeps_its_nearest_copy_first(settings, tiny_checkpoint):
    """The head reads the sofa's picture as a lamp: ranked by that guess, its own copy (a sofa) would fall below the
    lamps. The catalog says sofa, so the page trusts neither and ranks by likeness."""
    products = _products_near_a_sofa(settings, tiny_checkpoint, guess={"lamp": 0.95, "rug": 0.04}, copy=True)

    results = similar_products(product=products[0], k=3)

    assert [pid for pid, _ in results] == [products[5].pk, products[1].pk, products[2].pk]


def test_a_product_without_a_stored_guess_is_answered_by_similarity_alone(settings, tiny_checkpoint):
    products = _products_near_a_sofa(settings, tiny_checkpoint, guess={})

    results = similar_products(product=products[0], k=2)

    assert [pid for pid, _ in results] == [products[1].pk, products[2].pk]


def test_an_encoded_product_keeps_its_pictures_category_guess_by_slug(served):
    from recommender.models import ProductEmbedding

    sofa = served["products"]["sofa"][0]
    stored = ProductEmbedding.objects.get(product=sofa, encoder_version=served["encoder"]).categories

    assert stored and set(stored) <= {"sofa", "lamp", "rug"}
    assert max(stored, key=stored.get) == "sofa"
    assert abs(sum(stored.values()) - 1) < 0.01


def test_encoding_the_catalog_again_gives_vectors_stored_without_a_guess_their_guess(served):
    """Vectors stored before guesses were kept (after an upgrade: ``manage.py encode_catalog``) are encoded again,
    once; the others are left alone."""
    from recommender.models import ProductEmbedding
    from recommender.services.encoding import catalog_encode

    sofa = served["products"]["sofa"][0]
    ProductEmbedding.objects.filter(product=sofa).update(categories={})

    first = catalog_encode(version=served["encoder"])
    second = catalog_encode(version=served["encoder"])

    assert (first, second) == (1, 0)
    assert ProductEmbedding.objects.get(product=sofa, encoder_version=served["encoder"]).categories
