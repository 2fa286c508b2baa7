"""bench/coview_part.py: the room figures of "goes with" vectors with and without the products' co-occurrence part."""

import numpy as np
import torch

from bench import coview_part as bench

# four rooms of a sofa, a lamp and a rug among sixty products; their pictures say nothing of which room
ROOMS = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
CATEGORIES = ["sofa", "lamp", "rug"] * 20
PAIRS = torch.tensor([[a, b, 1] for room in ROOMS for i, a in enumerate(room) for b in room[i + 1 :]])


def pictures() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.nn.functional.normalize(torch.randn(60, 16, generator=generator), dim=1)


def test_the_co_occurrence_part_finds_the_room_that_the_pictures_alone_do_not():
    alone = bench.room_figures(pictures(), PAIRS, ROOMS, CATEGORIES, dim=0, share=0.0, width=12, weight=0.0)
    joined = bench.room_figures(pictures(), PAIRS, ROOMS, CATEGORIES, dim=4, share=0.6, width=12, weight=0.0)

    assert joined[0] == joined[1] == 1.0  # every product's room-mates are among its nearest
    assert alone[1] < 0.5  # by their pictures, most are not
    assert joined[2] == joined[3] == 1.0  # as served too: the room-mates are of other categories


def test_as_served_a_product_of_the_askers_own_category_is_never_shown():
    scores = np.zeros((4, 4))
    scores[0] = [1.0, 0.1, 0.2, 0.9]  # product 0's nearest is 3, a sofa like itself
    hits, recalls = bench.served_ranking(scores, [[0, 3]], ["sofa", "lamp", "rug", "sofa"])

    assert hits.tolist() == recalls.tolist() == [0.0, 0.0]
