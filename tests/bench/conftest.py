from tests.recommender.conftest import (  # noqa: F401  (fixtures)
    catalog_products,
    fresh_index_cache,
    served,
    tiny_checkpoint,
)
