from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses and feedback"

    def ready(self) -> None:
        from .surveys import checks, selectors  # noqa: F401 - registers the checks; connects cache invalidation
