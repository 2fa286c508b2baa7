import factory
from django.core.files.base import ContentFile

from catalog.models import Category, Product
from tests.images import image_bytes


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda category: category.name.lower().replace(" ", "-"))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.LazyAttribute(lambda product: f"{product.name}-{product.sku}".lower().replace(" ", "-"))
    category = factory.SubFactory(CategoryFactory)
    type = "Sofa"
    image = factory.LazyFunction(lambda: ContentFile(image_bytes(), name="photo.jpg"))
