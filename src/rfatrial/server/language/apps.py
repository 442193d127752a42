from django.apps import AppConfig


class LanguageConfig(AppConfig):
    name = "rfatrial.server.language"
    label = "language"
    verbose_name = "Interface language"
