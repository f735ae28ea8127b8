"""REST API for themes: the course's themes (those large enough to name), recomputation runs, and recomputing.

Thin callers of classifiers.themes.services and .selectors, like the admin action and `manage.py themes`:
the service decides who may recompute (403 with its reason). Counts per module are in the report API
(/api/courses/{code}/reports/modules/), where the minimum group size applies.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from classifiers.labelling.serializers import LabelSchemaSerializer
from classifiers.themes.labels import free_schema_name, schema_from_themes, themes_by_id
from classifiers.themes.models import Theme, ThemeRun
from classifiers.themes.selectors import themes_to_list
from classifiers.themes.serializers import LabelSchemaFromThemesIn, ThemeRunSerializer, ThemeSerializer
from classifiers.themes.services import start_theme_run
from courses.models import Course
from courses.permissions import VIEW_ROLES
from courses.scoping import CourseScopedViewSet


class ThemeViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """The course's themes with at least its minimum group size of comments when last seen (smaller ones
    would describe a small group); `recompute` queues a new run on the workers."""

    serializer_class = ThemeSerializer
    queryset = Theme.objects.all()
    write_roles = VIEW_ROLES  # who may recompute is the service's rule (403 with its reason)

    def course_queryset(self, course: Course) -> QuerySet[Theme]:
        return themes_to_list(Course.objects.filter(pk=course.pk)).order_by("-size", "pk")

    @extend_schema(request=None, responses={202: ThemeRunSerializer})
    @action(detail=False, methods=["post"])
    def recompute(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Embed what is missing, cluster, and match to the previous themes (ids and staff names survive)."""
        run = start_theme_run(self.course, actor=request.user)
        return Response(ThemeRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=LabelSchemaFromThemesIn, responses={201: LabelSchemaSerializer})
    @action(detail=False, methods=["post"], url_path="label-schema")
    def label_schema(self, request: Request, *args: object, **kwargs: object) -> Response:
        """A multi-label topic schema whose labels are the chosen themes; their comments become suggestions in
        the annotate queue (training data only once a person saves them)."""
        data = LabelSchemaFromThemesIn(data=request.data)
        data.is_valid(raise_exception=True)
        chosen = themes_by_id(self.course, data.validated_data["themes"])
        name = data.validated_data.get("name") or free_schema_name(self.course)
        schema = schema_from_themes(chosen, actor=request.user, name=name)
        return Response(LabelSchemaSerializer(schema).data, status=status.HTTP_201_CREATED)


class ThemeRunViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """Recomputations of the course's themes: status, progress, counts of kept, new, merged and vanished themes."""

    serializer_class = ThemeRunSerializer
    queryset = ThemeRun.objects.all()

    def course_queryset(self, course: Course) -> QuerySet[ThemeRun]:
        return ThemeRun.objects.filter(course=course).order_by("-created_at", "-pk")
