from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from oauth2_provider import views as oauth2_views
from rest_framework.routers import SimpleRouter

from classifiers import api as classifiers_api
from classifiers import api_training
from courses import api as courses_api


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# Every resource but the course list lives under its course: /api/courses/{course_code}/<resource>/.
api = SimpleRouter()
api.register("courses", courses_api.CourseViewSet, basename="course")
COURSE = r"courses/(?P<course_code>[-\w]+)/"
api.register(COURSE + "modules", courses_api.ModuleViewSet, basename="module")
api.register(COURSE + "surveys", courses_api.SurveyViewSet, basename="survey")
api.register(COURSE + "feedback", courses_api.FeedbackViewSet, basename="feedback")
api.register(COURSE + "schemas", classifiers_api.LabelSchemaViewSet, basename="labelschema")
api.register(COURSE + "labels", classifiers_api.LabelViewSet, basename="label")
api.register(COURSE + "annotations", classifiers_api.AnnotationViewSet, basename="annotation")
api.register(COURSE + "training-runs", api_training.TrainingRunViewSet, basename="trainingrun")
api.register(COURSE + "model-versions", api_training.ModelVersionViewSet, basename="modelversion")
api.register(COURSE + "predictions", classifiers_api.PredictionViewSet, basename="prediction")

# OAuth2 for integrations, client credentials only: token, revocation, introspection. No authorize page
# and no application management pages (applications come from `manage.py create_api_client` or admin).
oauth2 = ([
    path("token/", oauth2_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth2_views.IntrospectTokenView.as_view(), name="introspect"),
], "oauth2_provider")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("api/oauth/", include(oauth2)),
    path("api/", include(api.urls)),
    path("api/courses/<slug:course_code>/reports/modules/", classifiers_api.ModuleReportView.as_view(),
         name="module-report"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("lti/", include("courses.lti.urls")),
    path("surveys/", include("courses.surveys.urls")),
    path("reports/", include("classifiers.report_urls")),
]
