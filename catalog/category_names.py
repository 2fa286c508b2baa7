"""What shoppers read for a category: its display name. Staff can change it in admin; these are the defaults."""

# The IKEA dataset's 19 coarse categories (shared/data/README.md).
IKEA_DISPLAY_NAMES = {
    "sofa": "Sofas",
    "armchair": "Armchairs",
    "chair": "Chairs",
    "stool_bench": "Stools & benches",
    "table": "Tables",
    "desk": "Desks",
    "bed": "Beds",
    "wardrobe_cabinet": "Wardrobes & cabinets",
    "drawers": "Chests of drawers",
    "shelving": "Shelving",
    "lamp": "Lamps",
    "rug": "Rugs",
    "textile": "Textiles",
    "decor": "Decoration",
    "kitchenware": "Kitchenware",
    "storage_box": "Boxes & baskets",
    "fixture_appliance": "Fixtures & appliances",
    "children": "Children's furniture",
    "other": "Other",
}


def default_display_name(name: str) -> str:
    """The IKEA category's own display name, else the name made readable: "living_room" → "Living room".
    Only the separators and the first letter change; every other character is kept as given."""
    if name in IKEA_DISPLAY_NAMES:
        return IKEA_DISPLAY_NAMES[name]
    words = " ".join(name.replace("_", " ").split())
    return words[:1].upper() + words[1:]
