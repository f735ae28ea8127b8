"""REST API for themes: the course's themes (those large enough to name), recomputation runs, recomputing, and
staff control (rename, hide, show, merge, split, history; classifiers.themes.staff decides who may).

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
from classifiers.themes.selectors import theme_edits, themes_to_list
from classifiers.themes.serializers import (
    LabelSchemaFromThemesIn,
    MergeThemesSerializer,
    RenameThemeSerializer,
    SplitThemeSerializer,
    ThemeEditSerializer,
    ThemeRunSerializer,
    ThemeSerializer,
)
from classifiers.themes.services import start_theme_run
from classifiers.themes.staff import merge_themes, rename_theme, set_theme_hidden, split_theme
from courses.models import Course
from courses.permissions import VIEW_ROLES, courses_for_user
from courses.scoping import CourseScopedViewSet
from eduplatform.errors import DomainError


class ThemeViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """The course's themes with at least its minimum group size of comments when last seen (smaller ones
    would describe a small group); `recompute` queues a new run on the workers."""

    serializer_class = ThemeSerializer
    queryset = Theme.objects.all()
    write_roles = VIEW_ROLES  # who may recompute or edit is the services' rule (403 with their reason)

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


    def _answer(self, theme: Theme, code: int = status.HTTP_200_OK) -> Response:
        return Response(ThemeSerializer(theme).data, status=code)

    @extend_schema(request=RenameThemeSerializer, responses={200: ThemeSerializer})
    @action(detail=True, methods=["post"])
    def rename(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Give the theme a staff name (recomputations keep it)."""
        theme = self.get_object()  # first: another course's theme is a 404 whatever the body
        body = RenameThemeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._answer(rename_theme(theme, name=body.validated_data["name"], actor=request.user))

    @extend_schema(request=None, responses={200: ThemeSerializer})
    @action(detail=True, methods=["post"])
    def hide(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Hide the theme in reports: its comments count under "other"."""
        return self._answer(set_theme_hidden(self.get_object(), hidden=True, actor=request.user))

    @extend_schema(request=None, responses={200: ThemeSerializer})
    @action(detail=True, methods=["post"])
    def show(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Show a hidden theme in reports again."""
        return self._answer(set_theme_hidden(self.get_object(), hidden=False, actor=request.user))

    @extend_schema(request=MergeThemesSerializer, responses={200: ThemeSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Merge the given themes into this one (it keeps its id); recomputations keep them merged."""
        into = self.get_object()
        body = MergeThemesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = list(dict.fromkeys(body.validated_data["themes"]))
        # Looked up among the themes of the user's courses the API lists: another course's id is a clear error.
        found = {t.pk: t for t in themes_to_list(courses_for_user(request.user)).filter(pk__in=wanted)
                 .select_related("course")}
        missing = [pk for pk in wanted if pk not in found]
        if missing:
            raise DomainError(f"no theme {', '.join(map(str, missing))} in your courses")
        return self._answer(merge_themes([found[pk] for pk in wanted], into=into, actor=request.user))

    @extend_schema(request=SplitThemeSerializer, responses={201: ThemeSerializer})
    @action(detail=True, methods=["post"])
    def split(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Split the comments that contain `keyword` (or the `comments` given) off into a new theme."""
        theme = self.get_object()
        body = SplitThemeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        new = split_theme(theme, name=data["name"], keyword=data["keyword"],
                          feedback_ids=data["comments"], actor=request.user)
        return self._answer(new, status.HTTP_201_CREATED)

    @extend_schema(responses={200: ThemeEditSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def history(self, request: Request, *args: object, **kwargs: object) -> Response:
        """Who renamed, merged, split off, hid or showed this theme, when, and what."""
        theme = self.get_object()
        edits = theme_edits(theme)[:200]
        return Response(ThemeEditSerializer(edits, many=True, context={"seen_from": theme.pk}).data)


class ThemeRunViewSet(viewsets.ReadOnlyModelViewSet, CourseScopedViewSet):
    """Recomputations of the course's themes: status, progress, counts of kept, new, merged and vanished themes."""

    serializer_class = ThemeRunSerializer
    queryset = ThemeRun.objects.all()

    def course_queryset(self, course: Course) -> QuerySet[ThemeRun]:
        return ThemeRun.objects.filter(course=course).order_by("-created_at", "-pk")
