"""Recording annotations: one current annotation per annotator per item, history kept.

Every door (annotate page, items list, bulk actions, API) records through here, so who may annotate and
whether a label confirmed the model's suggestion are decided once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from classifiers.models import (
    Annotation,
    AnnotationLabel,
    AnnotationSource,
    Label,
    LabelSchema,
    SchemaKind,
)
from classifiers.selectors import serving_predictions
from classifiers.themes.labels import confirmed_theme
from courses.models import Feedback
from courses.permissions import Action, authorize
from eduplatform.errors import DomainError


class AnnotationRejected(DomainError):
    pass


def validate_label_choice(schema: LabelSchema, labels: Sequence[Label]) -> None:
    if not labels:
        raise AnnotationRejected("choose at least one label")
    if any(label.schema_id != schema.pk for label in labels):
        raise AnnotationRejected(f'a chosen label is not part of schema "{schema.name}"')
    if schema.kind != SchemaKind.MULTI and len(labels) > 1:
        raise AnnotationRejected(f'schema "{schema.name}" is {schema.get_kind_display()}: choose exactly one label')


def confirmed_suggestions(
    schema: LabelSchema, chosen: Mapping[int, Collection[str]], *, course_ids: Mapping[int, int]
) -> dict[int, int]:
    """feedback id → id of the version whose suggestion the chosen labels confirm (items where none does are
    left out).

    The one rule of suggestion acceptance: a person's labels confirm a suggestion when they are exactly the
    labels predicted by the version that serves the item's course. `course_ids` maps feedback id → course id.
    """
    predicted = serving_predictions(schema, course_ids.values()).filter(feedback_id__in=list(chosen))
    return {
        fid: version_id
        for fid, names, version_id in predicted.values_list("feedback_id", "label_names", "model_version_id")
        if set(names) == set(chosen[fid])
    }


def record_annotation(
    feedback: Feedback, schema: LabelSchema, labels: Sequence[Label], *, actor: AbstractBaseUser
) -> Annotation:
    """Save `actor`'s labels for `feedback`; their previous annotation stays as history.

    When the labels are the serving model's suggestion, `suggested_by` records that version (and
    `suggested_by_theme` the theme, for a schema made from themes): the annotation is still the person's
    (a human one); the source is kept so we can tell how often suggestions are accepted.
    """
    authorize(actor, Action.ANNOTATE, feedback.course)
    if schema.course_id not in (None, feedback.course_id):
        raise AnnotationRejected("the schema belongs to another course")
    validate_label_choice(schema, labels)
    suggested_by_id = confirmed_suggestions(
        schema, {feedback.pk: [lb.name for lb in labels]}, course_ids={feedback.pk: feedback.course_id}
    ).get(feedback.pk)
    theme_id = confirmed_theme(feedback, schema, [lb.pk for lb in labels])
    with transaction.atomic():
        Annotation.objects.filter(
            feedback=feedback, schema=schema, annotator=actor, source=AnnotationSource.HUMAN, is_current=True
        ).update(is_current=False)
        annotation = Annotation.objects.create(
            feedback=feedback, schema=schema, annotator=actor, source=AnnotationSource.HUMAN,
            suggested_by_id=suggested_by_id, suggested_by_theme_id=theme_id,
        )
        AnnotationLabel.objects.bulk_create(AnnotationLabel(annotation=annotation, label=lb) for lb in labels)
    return annotation


def record_group(
    items: Sequence[Feedback], schema: LabelSchema, labels: Sequence[Label], *, actor: AbstractBaseUser
) -> list[Annotation]:
    """The same labels on a few items at once (near-duplicates found with "similar comments"): each through
    `record_annotation`, so who may and which suggestion it confirms are decided per item; all or nothing."""
    with transaction.atomic():
        return [record_annotation(item, schema, labels, actor=actor) for item in items]


def undo_annotation(annotation: Annotation, *, actor: AbstractBaseUser) -> Annotation | None:
    """Take back `actor`'s latest annotation of an item: it is deleted and their previous one (if any)
    becomes current again. Returns the restored annotation. Only one's own current annotation can be undone.
    """
    authorize(actor, Action.ANNOTATE, annotation.feedback.course)
    if annotation.annotator_id != actor.pk or annotation.source != AnnotationSource.HUMAN:
        raise AnnotationRejected("you can only undo your own annotations")
    if not annotation.is_current:
        raise AnnotationRejected("this annotation was already replaced; relabel the item instead")
    with transaction.atomic():
        previous = (
            Annotation.objects.select_for_update()
            .filter(feedback_id=annotation.feedback_id, schema_id=annotation.schema_id, annotator=actor,
                    source=AnnotationSource.HUMAN, is_current=False)
            .order_by("-created_at", "-pk")
            .first()
        )
        annotation.delete()
        if previous is not None:
            previous.is_current = True
            previous.save(update_fields=["is_current", "updated_at"])
    return previous


def settle_disagreement(
    feedback: Feedback, schema: LabelSchema, labels: Sequence[Label], *, actor: AbstractBaseUser
) -> Annotation:
    """The schema's designated reviewer settles an item; under the reviewer policy their label wins."""
    authorize(actor, Action.SETTLE_DISAGREEMENT, feedback.course)
    if schema.reviewer_id is None:
        raise AnnotationRejected(f'schema "{schema.name}" has no reviewer; set one on the schema page first')
    if schema.reviewer_id != actor.pk:
        raise AnnotationRejected(f'only the reviewer of schema "{schema.name}" can settle disagreements')
    return record_annotation(feedback, schema, labels, actor=actor)
