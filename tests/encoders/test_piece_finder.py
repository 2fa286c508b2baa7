import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from encoders import metrics
from encoders.backbone import load_efficientnet_lite0
from encoders.evaluation import EncoderEmbedder, piece_scores
from encoders.inference import LoadedEncoder, backbone_features, load_encoder
from encoders.model import LookalikeEncoder, ModelConfig
from encoders.piece_finder import (
    CROP_MARGIN,
    PIECE_HEAD,
    FinderSettings,
    candidate_windows,
    find_pieces,
    photo_feature_map,
    photo_tensor,
    piece_crop,
    window_boxes,
    window_features,
)
from encoders.pieces import Piece, box_iou, suppress_overlaps
from encoders.preprocess import default_preprocess
from encoders.queries import Catalog, QuerySet
from encoders.training import train_encoder
from tests.encoders.helpers import make_background, make_catalog, tiny_config

SHADES = [(200, 30, 30), (30, 60, 200), (30, 150, 40), (120, 40, 160)]


def draw_kind(draw: ImageDraw.ImageDraw, kind: str, box: tuple, colour) -> None:
    """A line drawing of a piece in ``box`` (x0, y0, x1, y1): a "table" (a top on two legs) or a "lamp" (a shade on
    a stem and a foot)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if kind == "table":
        draw.rectangle((x0, y0 + h * 0.2, x1, y0 + h * 0.32), fill=colour)
        for left in (x0 + w * 0.08, x1 - w * 0.16):
            draw.rectangle((left, y0 + h * 0.32, left + w * 0.08, y1), fill=colour)
    else:
        draw.polygon([(x0 + w * 0.3, y0), (x0 + w * 0.7, y0), (x1, y0 + h * 0.4), (x0, y0 + h * 0.4)], fill=colour)
        draw.rectangle((x0 + w * 0.46, y0 + h * 0.4, x0 + w * 0.54, y1 - h * 0.08), fill=colour)
        draw.rectangle((x0 + w * 0.25, y1 - h * 0.08, x0 + w * 0.75, y1), fill=colour)


def drawn_shot(kind: str, colour, *, size: int = 224) -> Image.Image:
    """A catalog-like shot: one piece on white."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw_kind(ImageDraw.Draw(img), kind, (size // 6, size // 6, size - size // 6, size - size // 6), colour)
    return img


@pytest.fixture(scope="module")
def shapes_encoder() -> LoadedEncoder:
    """The real pretrained backbone with a category head fitted on shots of drawn tables and lamps of several
    colours: its kinds are told apart by shape."""
    torch.manual_seed(0)
    config = ModelConfig(served_dim=0, dropout=0.0)
    model = LookalikeEncoder(config=config, backbone=load_efficientnet_lite0(), num_categories=2).eval()
    encoder = LoadedEncoder(
        model=model, config=config, preprocess=default_preprocess(), categories=["lamp", "table"], checkpoint={}
    )
    shots = [drawn_shot(kind, colour) for kind in ("lamp", "table") for colour in SHADES]
    labels = torch.tensor([0] * len(SHADES) + [1] * len(SHADES))
    feats = torch.from_numpy(backbone_features(encoder, shots))
    optimiser = torch.optim.Adam(model.category.parameters(), lr=1e-3)
    for _ in range(60):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model.category_logits(feats), labels).backward()
        optimiser.step()
    model.eval()
    return encoder


def two_pieces_photo() -> tuple[Image.Image, tuple, tuple]:
    """A 896 x 448 photo: a green table on the left, an orange lamp on the right (colours the head never saw); their
    boxes as fractions of the photo."""
    img = Image.new("RGB", (896, 448), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw_kind(draw, "table", (96, 96, 288, 288), (60, 180, 90))
    draw_kind(draw, "lamp", (576, 128, 768, 320), (230, 140, 30))
    return img, (96 / 896, 96 / 448, 192 / 896, 192 / 448), (576 / 896, 128 / 448, 192 / 896, 192 / 448)


def test_two_drawn_pieces_side_by_side_are_found_with_their_kinds(shapes_encoder):
    photo, table_box, lamp_box = two_pieces_photo()

    pieces = find_pieces(shapes_encoder, photo, max_pieces=2)

    by_kind = {piece.category: piece for piece in pieces}
    assert sorted(by_kind) == ["lamp", "table"]
    assert box_iou(by_kind["table"].box, np.array([table_box]))[0] >= 0.5
    assert box_iou(by_kind["lamp"].box, np.array([lamp_box]))[0] >= 0.5
    assert all(piece.confidence > 0.5 for piece in pieces)


def test_pieces_carry_normalised_search_vectors_and_the_whole_guess(shapes_encoder):
    photo, _, _ = two_pieces_photo()

    pieces = find_pieces(shapes_encoder, photo, max_pieces=2)

    for piece in pieces:
        assert piece.vector.shape == (shapes_encoder.config.search_dim,)
        assert np.linalg.norm(piece.vector) == pytest.approx(1.0, abs=1e-5)
        assert set(piece.categories) == {"lamp", "table"}
        assert piece.categories[piece.category] == pytest.approx(piece.confidence)
        x, y, w, h = piece.box
        assert min(x, y) >= 0 and x + w <= 1 + 1e-6 and y + h <= 1 + 1e-6


def test_a_pieces_search_vector_is_its_crop_passed_through_the_backbone_as_a_photo(shapes_encoder):
    photo, _, _ = two_pieces_photo()

    pieces = find_pieces(shapes_encoder, photo, max_pieces=2, settings=FinderSettings(vectors="crop"))
    windowed = find_pieces(shapes_encoder, photo, max_pieces=2)  # the default: the windows of the one pass

    crops = [piece_crop(photo, piece.box, margin=CROP_MARGIN) for piece in pieces]
    features = torch.from_numpy(backbone_features(shapes_encoder, crops))
    with torch.no_grad():
        expected = shapes_encoder.model.query_vectors(features, head=PIECE_HEAD).numpy()
    np.testing.assert_allclose(np.stack([piece.vector for piece in pieces]), expected, atol=1e-5)
    assert [(p.box, p.category) for p in pieces] == [(p.box, p.category) for p in windowed]  # found the same way
    assert not np.allclose(pieces[0].vector, windowed[0].vector, atol=1e-3)


def test_the_evaluation_finds_the_pieces_as_it_is_told_the_worker_does(shapes_encoder):
    photo, _, _ = two_pieces_photo()
    crop = FinderSettings(vectors="crop")

    measured = EncoderEmbedder(shapes_encoder, finder=crop).pieces(photo)

    served = find_pieces(shapes_encoder, photo, settings=crop)
    np.testing.assert_allclose([p.vector for p in measured], [p.vector for p in served], atol=1e-6)


def test_a_pieces_crop_is_its_box_grown_by_the_margin_within_the_photo():
    photo = Image.new("RGB", (200, 100))

    assert piece_crop(photo, (0.25, 0.2, 0.5, 0.5), margin=0.1).size == (120, 60)  # 100 x 50 grown 10 % each side
    assert piece_crop(photo, (0.0, 0.0, 0.5, 1.0), margin=0.1).size == (110, 100)  # cut at the photo's edges
    assert piece_crop(photo, (1.0, 1.0, 0.0, 0.0), margin=0.1).size == (1, 1)  # never empty


def test_an_unknown_source_of_vectors_is_refused(shapes_encoder):
    photo, _, _ = two_pieces_photo()

    with pytest.raises(ValueError, match="vectors must be one of"):
        find_pieces(shapes_encoder, photo, settings=FinderSettings(vectors="pixels"))


def test_the_number_of_pieces_is_capped(shapes_encoder):
    photo, _, _ = two_pieces_photo()

    assert len(find_pieces(shapes_encoder, photo, max_pieces=1)) == 1
    assert len(find_pieces(shapes_encoder, photo, max_pieces=0)) == 0
    assert len(find_pieces(shapes_encoder, photo, settings=FinderSettings(max_pieces=1))) == 1
    assert len(EncoderEmbedder(shapes_encoder, finder=FinderSettings(max_pieces=1)).pieces(photo)) == 1


def test_pieces_of_one_photo_do_not_overlap_beyond_the_setting(shapes_encoder):
    photo, _, _ = two_pieces_photo()
    settings = FinderSettings(overlap_iou=0.3, min_confidence=0.0)

    pieces = find_pieces(shapes_encoder, photo, max_pieces=6, settings=settings)

    boxes = np.array([piece.box for piece in pieces])
    for i in range(len(boxes)):
        assert box_iou(boxes[i], np.delete(boxes, i, axis=0)).max() <= 0.3 + 1e-6


@pytest.fixture
def tiny_checkpoint(tmp_path):
    paths, categories = make_catalog(tmp_path)
    return train_encoder(
        config=tiny_config(),
        product_images=paths,
        categories=categories,
        coview_pairs=[(0, 1, 2)],
        backgrounds=[make_background(tmp_path)],
        seed=0,
        progress=lambda *args: None,
        num_threads=1,
    )


def test_a_tiny_encoder_finds_pieces_in_one_pass(tiny_checkpoint, tmp_path):
    encoder = load_encoder(tiny_checkpoint)

    settings = FinderSettings(min_confidence=0, score="confidence")

    pieces = find_pieces(encoder, make_background(tmp_path), max_pieces=3, settings=settings)

    assert 1 <= len(pieces) <= 3
    assert all(piece.category in {"lamp", "table"} for piece in pieces)
    assert [piece.confidence for piece in pieces] == sorted((piece.confidence for piece in pieces), reverse=True)


def test_a_version_without_a_category_head_finds_no_pieces(tiny_checkpoint, tmp_path):
    state = {k: v for k, v in tiny_checkpoint["state_dict"].items() if not k.startswith("category.")}
    encoder = load_encoder({**tiny_checkpoint, "state_dict": state})

    assert not encoder.has_category_head
    assert find_pieces(encoder, make_background(tmp_path)) == []


def test_a_box_of_the_tiny_map_is_the_pooled_feature_of_the_whole_image(tiny_checkpoint, tmp_path):
    encoder = load_encoder(tiny_checkpoint)
    x = torch.randn(1, 3, 64, 96)

    with torch.no_grad():
        pooled = encoder.model.backbone(x)[0]
        fmap = encoder.model.backbone.feature_map(x)[0]  # (F, 4, 6)

    whole = window_features(fmap, np.array([[0, 0, 4, 6]]))[0]
    assert torch.allclose(whole, pooled, atol=1e-5)


def test_the_feature_map_of_a_photo_has_its_shape(tiny_checkpoint, tmp_path):
    encoder = load_encoder(tiny_checkpoint)

    fmap = photo_feature_map(encoder, Image.new("RGB", (200, 100), (90, 90, 90)), side=64)

    assert fmap.shape == (encoder.config.backbone_dim, 4, 8)  # 64 x 128 px at the tiny backbone's stride of 16


def test_a_panorama_is_passed_whole_within_the_longest_side():
    panorama = Image.new("RGB", (4000, 600), (90, 90, 90))

    x = photo_tensor(panorama, side=320, stride=32, preprocess=default_preprocess())

    assert x.shape == (3, 96, 640)  # scaled to a long side of twice 320, each side whole cells: nothing cropped


def test_window_features_are_the_mean_over_each_window():
    fmap = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    windows = np.array([[0, 0, 1, 1], [1, 1, 3, 3], [0, 0, 3, 4]])

    feats = window_features(fmap, windows)

    expected = torch.stack([fmap[:, r0:r1, c0:c1].mean(dim=(1, 2)) for r0, c0, r1, c1 in windows])
    assert torch.allclose(feats, expected)


def test_windows_cover_every_position_of_each_size_once():
    windows = candidate_windows(4, 6, scales=(0.5, 1.0), shapes=(1.0,))

    assert len(windows) == len({tuple(w) for w in windows})
    assert {(r1 - r0, c1 - c0) for r0, c0, r1, c1 in windows} == {(2, 2), (4, 4)}
    assert len(windows) == 3 * 5 + 1 * 3
    assert np.allclose(window_boxes(np.array([[1, 3, 3, 6]]), 4, 6), [[0.5, 0.25, 0.5, 0.5]])


def test_box_iou_by_hand():
    box = (0.0, 0.0, 0.5, 0.5)
    others = np.array([[0.0, 0.0, 0.5, 0.5], [0.25, 0.0, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]])

    assert np.allclose(box_iou(box, others), [1.0, 0.125 / 0.375, 0.0, 0.0])


def test_overlapping_boxes_are_suppressed_and_the_best_kept_first():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.05, 0.0, 0.5, 0.5], [0.5, 0.5, 0.4, 0.4], [0.6, 0.0, 0.3, 0.3]])
    scores = np.array([0.6, 0.9, 0.5, 0.7])

    assert suppress_overlaps(boxes, scores, iou=0.3, max_count=6) == [1, 3, 2]
    assert suppress_overlaps(boxes, scores, iou=0.3, max_count=2) == [1, 3]


def test_suppression_per_category_keeps_overlapping_boxes_of_other_kinds():
    boxes = np.array([[0.0, 0.0, 0.5, 0.5], [0.05, 0.0, 0.5, 0.5]])

    kept = suppress_overlaps(boxes, np.array([0.6, 0.9]), iou=0.3, max_count=6, groups=np.array([0, 1]))

    assert kept == [1, 0]


def test_union_recall_counts_a_room_product_found_by_any_piece():
    # the first photo's two pieces were answered products 0-9 and 2-11
    answers = [np.array([range(10), range(2, 12)]), np.array([range(10)])]
    rooms = [[0, 11, 5, 20], []]  # product 20 is found by no piece; the second room has no catalog product

    assert metrics.union_recall_scores(answers, rooms).tolist() == [3 / 4]


def test_a_piece_is_answered_within_its_own_guess_and_merged_by_best_score():
    categories = ["chair"] * 11 + ["lamp"]
    scores = np.array([[0.9] * 11 + [0.5], [0.1] * 11 + [0.8]])  # a piece most like the chairs, said to be a lamp
    guesses = [{"lamp": 0.99, "chair": 0.001}, {"lamp": 1.0}]

    answers = metrics.piece_answers(scores, categories, guesses, k=3)
    merged = metrics.merged_piece_scores(scores, answers)

    assert answers[0].tolist() == [11, 0, 1] and answers[1].tolist()[0] == 11  # the lamp first, as the page ranks
    assert merged[0] > merged[1] > merged[11]  # by its best cosine over the pieces (0.9, 0.9, 0.8), ties by id
    assert merged[5] == -np.inf  # answered to no piece


def test_a_piece_sure_of_its_category_is_answered_within_it_as_the_room_answer_does():
    categories = ["chair"] * 11 + ["lamp"] * 2
    scores = np.array([[0.9] * 11 + [0.5, 0.4]] * 2)  # two pieces most like the chairs
    guesses = [{"chair": 0.5, "lamp": 0.5}] * 2

    answers = metrics.piece_answers(scores, categories, guesses, k=3, inside=["lamp", None])

    assert answers[0].tolist() == [11, 12, 0]  # both lamps (all the catalog has), then the ranking fills up
    assert set(answers[1].tolist()) <= set(range(11))  # unsure: the open ranking


def test_piece_precision_is_the_share_of_pieces_of_the_rooms_kinds():
    catalog_categories = ["sofa", "lamp", "rug", "table"]
    rooms = [[0, 1], [2], [3], []]
    found = [["sofa", "lamp", "bed"], ["sofa"], [], ["sofa"]]  # a photo without pieces and an empty room: skipped

    assert metrics.piece_precision_scores(found, rooms, catalog_categories).tolist() == [2 / 3, 0.0]
    assert metrics.pieces_per_photo_scores([3, 1, 0, 1], rooms).tolist() == [3.0, 1.0, 0.0]


class FoundPieces:
    """An embedder whose room photos hold the pieces given (one-hot vectors over a catalog of 12)."""

    def __init__(self, pieces: dict[str, list[Piece]] | None, whole: dict[str, int]):
        self.found, self.whole = pieces, whole

    def scene(self, photo):
        return np.eye(12, dtype=np.float32)[[self.whole[photo]]]

    def pieces(self, photo):
        return None if self.found is None else self.found[photo]


def one_hot_piece(product: int, category: str) -> Piece:
    return Piece(
        box=(0.0, 0.0, 0.5, 0.5), category=category, confidence=0.9, vector=np.eye(12, dtype=np.float32)[product]
    )


def test_room_photos_are_measured_by_their_pieces_as_the_product_answers():
    catalog = Catalog(
        images=[], categories=["bed"] + ["chair"] * 9 + ["lamp", "sofa"], skus=[f"s{i}" for i in range(12)]
    )
    queries = QuerySet([], [], {}, [], ["a", "b"], [["s0", "s11", "s10"], ["s5", "s10"]])
    # photo a: a bed (product 0) and a sofa (product 11); photo b: no piece, answered whole (like product 5)
    embedder = FoundPieces({"a": [one_hot_piece(11, "sofa"), one_hot_piece(0, "bed")], "b": []}, {"a": 3, "b": 5})

    scores = piece_scores(embedder, catalog, queries, np.eye(12, dtype=np.float32))

    # a: the merged top 10 is 0, 11, 1..8 (ties by index): 2 of its 3 products; the sofa's top 10 is 11, 0..8 and
    # the bed's 0..9, so product 10 is in neither. b: its top 10 is 5, 0..4, 6..9: 1 of 2 products.
    assert scores["pieces hit@10"].tolist() == [1.0, 1.0]
    assert scores["pieces R@10"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert scores["pieces union R@10"].tolist() == pytest.approx([2 / 3, 1 / 2])
    assert scores["piece precision"].tolist() == [1.0]  # both of a's pieces are of its room's kinds; b has none
    assert scores["pieces per photo"].tolist() == [2.0, 0.0]


def test_an_encoder_that_finds_no_pieces_has_no_piece_figures():
    catalog = Catalog(images=[], categories=["bed"] * 12, skus=[f"s{i}" for i in range(12)])
    queries = QuerySet([], [], {}, [], ["a"], [["s0"]])

    assert piece_scores(FoundPieces(None, {"a": 0}), catalog, queries, np.eye(12)) == {}
    assert piece_scores(object(), catalog, queries, np.eye(12)) == {}  # a baseline


def test_room_photos_are_measured_with_the_catalogs_pairs_used_together_as_the_worker_ranks_them():
    categories = ["bed"] + ["chair"] * 9 + ["lamp", "sofa"]
    queries = QuerySet([], [], {}, [], ["a"], [["s0", "s11", "s9"]])
    embedder = FoundPieces({"a": [one_hot_piece(11, "sofa"), one_hot_piece(0, "bed")]}, {"a": 3})
    skus = [f"s{i}" for i in range(12)]
    alone = Catalog(images=[], categories=categories, skus=skus)
    together = Catalog(images=[], categories=categories, skus=skus, used_together=frozenset({(0, 9), (9, 11)}))

    before = piece_scores(embedder, alone, queries, np.eye(12, dtype=np.float32))
    after = piece_scores(embedder, together, queries, np.eye(12, dtype=np.float32))

    # the chair 9 is the bed piece's tenth answer, eleventh merged (ties by index); used with both pieces' matches,
    # it comes third
    assert before["pieces R@10"].tolist() == pytest.approx([2 / 3])
    assert after["pieces R@10"].tolist() == pytest.approx([1.0])
    assert after["pieces union R@10"].tolist() == before["pieces union R@10"].tolist() == pytest.approx([1.0])
