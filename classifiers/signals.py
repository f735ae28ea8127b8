"""Receivers: a new course gets the default schema; new feedback is classified and embedded (courses knows
nothing of us)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from classifiers.models import LabelSchema, ModelVersion
from courses.models import Course
from courses.signals import feedback_created


@receiver(post_save, sender=Course, dispatch_uid="classifiers.default_schema")
def create_default_schema(
    sender: type[Course], instance: Course, created: bool, raw: bool = False, **_: object
) -> None:
    if created and not raw:
        from classifiers.labelling.schemas import create_default_sentiment_schema

        create_default_sentiment_schema(instance)


@receiver(feedback_created, dispatch_uid="classifiers.classify_on_arrival")
def classify_on_arrival(sender: object, course_id: int, feedback_ids: list[int], **_: object) -> None:
    from classifiers.classification.services import classify_new_feedback

    classify_new_feedback(course_id, feedback_ids)


@receiver(feedback_created, dispatch_uid="classifiers.embed_on_arrival")
def embed_on_arrival(sender: object, course_id: int, feedback_ids: list[int], **_: object) -> None:
    from classifiers.themes.embeddings import embed_new_feedback

    embed_new_feedback(course_id, feedback_ids)


@receiver([post_save, post_delete], sender=ModelVersion, dispatch_uid="classifiers.forget_serving_version")
@receiver([post_save, post_delete], sender=LabelSchema, dispatch_uid="classifiers.forget_serving_schema")
@receiver(post_delete, sender=Course, dispatch_uid="classifiers.forget_serving_course")
def forget_serving_versions(sender: type, **_: object) -> None:
    """Which versions serve a course changed in this process: on-arrival marking asks again at once (other
    processes within CLASSIFY_SERVING_CACHE_S). Activations use `update()` and call it themselves."""
    from classifiers.classification.services import forget_serving_versions as forget

    forget()
