"""Screening's REST API: a screener's queue and decisions, the administrators' report. Thin callers of the
screening selectors and services, which refuse whoever may not (403 with the reason); a comment not in the
caller's queue is a 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifiers.screening.selectors import queue_item, queue_payload, queue_size, review_queue, screening_report
from classifiers.screening.serializers import (
    DecisionInSerializer,
    DecisionSerializer,
    QueueQuerySerializer,
    QueueSerializer,
    ReportQuerySerializer,
    ScreeningReportSerializer,
)
from classifiers.screening.services import decide


class ScreeningQueueView(APIView):
    """Held comments you may decide, oldest first (screeners only; never of a course where you hold a role)."""

    @extend_schema(parameters=[QueueQuerySerializer], responses=QueueSerializer)
    def get(self, request: Request) -> Response:
        query = QueueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        items = review_queue(request.user, limit=query.validated_data["limit"])
        return Response({"waiting": queue_size(request.user), "items": [queue_payload(i) for i in items]})


class ScreeningDecisionView(APIView):
    """Release a held comment, release it with a span redacted, or remove it (kept for audit, not counted)."""

    @extend_schema(request=DecisionInSerializer, responses={201: DecisionSerializer})
    def post(self, request: Request, feedback_id: int) -> Response:
        data = DecisionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = queue_item(request.user, feedback_id)
        if item is None:
            raise NotFound(f"Comment {feedback_id} is not in your screening queue (decided already, not held, or of "
                           "a course where you hold a role).")
        span = data.validated_data.get("span")
        decision = decide(item, action=data.validated_data["action"], actor=request.user,
                          reasons=data.validated_data["reasons"], note=data.validated_data["note"],
                          span=tuple(span) if span else None)
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class ScreeningReportView(APIView):
    """Held comments per reason and per course, decisions and time to decision (administrators only), with the
    minimum group rule."""

    @extend_schema(parameters=[ReportQuerySerializer], responses=ScreeningReportSerializer)
    def get(self, request: Request) -> Response:
        query = ReportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        report = screening_report(request.user, **query.validated_data)
        return Response(ScreeningReportSerializer(report).data)
