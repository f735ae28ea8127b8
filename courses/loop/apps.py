from django.apps import AppConfig


class LoopConfig(AppConfig):
    """"You said, we did": what instructors tell students they changed (or why not) after their feedback."""

    name = "courses.loop"
    label = "loop"
    verbose_name = "You said, we did"
    default_auto_field = "django.db.models.BigAutoField"
