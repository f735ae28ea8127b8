from django.apps import AppConfig


class ClassifiersConfig(AppConfig):
    name = "classifiers"
    verbose_name = "Classifiers"

    def ready(self) -> None:
        from classifiers import signals  # noqa: F401  (connects the default-schema receiver)
