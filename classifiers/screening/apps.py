from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    """Screening before staff read: verdicts at ingest, the review queue, urgent notifications, its report."""

    name = "classifiers.screening"
    label = "screening"
    verbose_name = "Screening"

    def ready(self) -> None:
        from classifiers.screening import receivers  # noqa: F401  (connects the signal receivers)
        from classifiers.screening.screens import ingest_screen
        from courses.screening import install_screen

        install_screen(ingest_screen)
