"""Variant keys: products of one name and type are the same thing in another colour or size."""

from catalog.variants import variant_key, variant_label


def test_the_variant_key_ignores_case_and_spacing():
    assert variant_key(name="MALM", type="Bed frame, high") == variant_key(name=" malm ", type="bed  frame, high")


def test_another_type_of_the_same_name_is_another_product():
    assert variant_key(name="MALM", type="Bed frame, high") != variant_key(name="MALM", type="Chest of 3 drawers")


def test_a_product_without_a_name_has_no_variant_key():
    assert variant_key(name="  ", type="Sofa") == ""


def test_an_option_is_named_by_its_colour_and_size():
    assert variant_label(color="White", size="160x200 cm", name="MALM", sku="1") == "White · 160x200 cm"
    assert variant_label(color="", size="", name="MALM", sku="1") == "MALM (1)"
