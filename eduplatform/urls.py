from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("lti/", include("courses.lti.urls")),
    path("surveys/", include("courses.surveys.urls")),
    path("reports/", include("classifiers.report_urls")),
]
