from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses and feedback"

    def ready(self) -> None:
        from .surveys import selectors  # noqa: F401 - connects the survey-definition cache invalidation
