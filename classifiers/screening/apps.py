from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    """Screening before staff read: verdicts at ingest, the review queue, urgent notifications, its report."""

    name = "classifiers.screening"
    label = "screening"
    verbose_name = "Screening"

    def ready(self) -> None:
        from django.conf import settings

        from classifiers.ml.screening import use_arrays_from
        from classifiers.screening import receivers  # noqa: F401  (connects the signal receivers)
        from classifiers.screening.screens import ingest_screen
        from courses.screening import install_screen

        install_screen(ingest_screen)
        # The default screen's model as plain arrays in the model cache: web processes screen every survey
        # answer and never load scikit-learn for it (tests/eduplatform/test_web_imports.py).
        use_arrays_from(settings.MODEL_CACHE_DIR / "screening")
