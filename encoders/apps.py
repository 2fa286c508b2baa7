from django.apps import AppConfig


class EncodersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "encoders"
