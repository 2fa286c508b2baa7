"""Readers for catalog and co-view files. They parse only; ``catalog.services.imports`` writes."""
