"""The API's exception handler: domain errors become JSON with the field (and item) they concern."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from courses.services import FeedbackRejected
from eduplatform.errors import BrokerUnavailable, DomainError, PermissionDenied, api_exception_handler


def test_domain_errors_become_json_with_their_field_and_item():
    assert api_exception_handler(DomainError("schema is full"), {}).data == {"detail": "schema is full"}
    response = api_exception_handler(FeedbackRejected("the text is empty", field="text", index=7), {})
    assert (response.status_code, response.data) == (400, {"items": {"7": {"text": ["the text is empty"]}}})
    response = api_exception_handler(FeedbackRejected("taken", field="external_id"), {})
    assert response.data == {"external_id": ["taken"]}


def test_status_follows_the_kind_of_domain_error():
    assert api_exception_handler(PermissionDenied("not yours"), {}).status_code == 403
    assert api_exception_handler(BrokerUnavailable("queue down; saved, retry later"), {}).status_code == 503


def test_model_validation_errors_are_400_per_field():
    response = api_exception_handler(ValidationError({"color": ["not a hex colour"]}), {})
    assert (response.status_code, response.data) == (400, {"color": ["not a hex colour"]})
