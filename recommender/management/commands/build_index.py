from django.core.management.base import BaseCommand, CommandError

from encoders.models import EncoderVersion
from encoders.versions import active_encoder_version
from recommender.services.indexing import index_build, serving_activate


class Command(BaseCommand):
    help = "Build a new Annoy index from the stored vectors of the live (or given) encoder and switch to it."

    def add_arguments(self, parser):
        parser.add_argument("--encoder", help="an encoder version's name (default: the live one)")
        parser.add_argument("--no-activate", action="store_true", help="build only; keep serving the current index")

    def handle(self, *args, encoder, no_activate, **options):
        version = EncoderVersion.objects.filter(name=encoder).first() if encoder else active_encoder_version()
        if version is None:
            raise CommandError(f"no encoder version named {encoder!r}" if encoder else "no live encoder: train one")
        try:
            index_version = index_build(encoder_version=version)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Built {index_version.name}: {index_version.item_count} products, {index_version.n_trees} trees, "
            f"search_k {index_version.search_k}, recall@10 {index_version.recall_at_10:.3f}, "
            f"{index_version.build_seconds:.1f} s."
        )
        if not no_activate:
            serving_activate(index_version=index_version)
            self.stdout.write(self.style.SUCCESS(f"{index_version.name} now serves queries."))
