from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "rfatrial.server.web"
    label = "web"
    verbose_name = "Study web application"
