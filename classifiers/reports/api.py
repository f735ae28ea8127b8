"""REST API for the per-module report: the numbers behind each chart, same privacy rules as the page."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from classifiers.models import LabelSchema
from classifiers.reports.selectors import module_report
from classifiers.reports.serializers import ModuleReportSerializer, ReportQuerySerializer
from classifiers.selectors import schema_named, schemas_for_course
from courses.models import Course
from courses.scoping import COURSE_CODE, CourseScopedMixin


class ModuleReportView(CourseScopedMixin, generics.GenericAPIView):
    """The numbers behind each chart of the per-module report, with the same privacy rules as the page."""

    queryset = LabelSchema.objects.all()
    serializer_class = ModuleReportSerializer
    pagination_class = None
    filter_backends: list = []

    def course_queryset(self, course: Course) -> QuerySet[LabelSchema]:
        return schemas_for_course(course)

    @extend_schema(parameters=[COURSE_CODE, ReportQuerySerializer], responses=ModuleReportSerializer)
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        schema = schema_named(self.course, query.validated_data["schema"])
        if schema is None:
            raise NotFound(f'Course {self.course.code} has no label schema "{query.validated_data["schema"]}".')
        report = module_report(
            self.course, schema, since=query.validated_data.get("since"), until=query.validated_data.get("until")
        )
        return Response(ModuleReportSerializer(report).data)
