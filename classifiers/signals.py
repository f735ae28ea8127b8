"""Every new course gets the default `sentiment` schema (courses knows nothing of classifiers)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from courses.models import Course


@receiver(post_save, sender=Course, dispatch_uid="classifiers.default_schema")
def create_default_schema(
    sender: type[Course], instance: Course, created: bool, raw: bool = False, **_: object
) -> None:
    if created and not raw:
        from .services.schemas import create_default_sentiment_schema

        create_default_sentiment_schema(instance)
