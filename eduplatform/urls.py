from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from oauth2_provider import views as oauth2_views
from rest_framework.routers import SimpleRouter

from classifiers.classification import api as classification_api
from classifiers.labelling import api as labelling_api
from classifiers.reports import api as reports_api
from classifiers.screening import api as screening_api
from classifiers.themes import api as themes_api
from classifiers.training import api as training_api
from courses import api as courses_api
from eduplatform.health import healthz
from eduplatform.metrics import metrics

# Every resource but the course list lives under its course: /api/courses/{course_code}/<resource>/.
api = SimpleRouter()
api.register("courses", courses_api.CourseViewSet, basename="course")
COURSE = r"courses/(?P<course_code>[-\w]+)/"
api.register(COURSE + "modules", courses_api.ModuleViewSet, basename="module")
api.register(COURSE + "surveys", courses_api.SurveyViewSet, basename="survey")
api.register(COURSE + "feedback", courses_api.FeedbackViewSet, basename="feedback")
api.register(COURSE + "schemas", labelling_api.LabelSchemaViewSet, basename="labelschema")
api.register(COURSE + "labels", labelling_api.LabelViewSet, basename="label")
api.register(COURSE + "annotations", labelling_api.AnnotationViewSet, basename="annotation")
api.register(COURSE + "training-runs", training_api.TrainingRunViewSet, basename="trainingrun")
api.register(COURSE + "model-versions", training_api.ModelVersionViewSet, basename="modelversion")
api.register(COURSE + "predictions", classification_api.PredictionViewSet, basename="prediction")
api.register(COURSE + "themes", themes_api.ThemeViewSet, basename="theme")
api.register(COURSE + "theme-runs", themes_api.ThemeRunViewSet, basename="themerun")

# OAuth2 for integrations, client credentials only: token, revocation, introspection. No authorize page
# and no application management pages (applications come from `manage.py create_api_client` or admin).
oauth2 = ([
    path("token/", oauth2_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth2_views.IntrospectTokenView.as_view(), name="introspect"),
], "oauth2_provider")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),  # load balancers: database, broker, model store (eduplatform.health)
    path("metrics", metrics, name="metrics"),  # Prometheus; token or administrators (eduplatform.metrics)
    path("api/oauth/", include(oauth2)),
    path("api/", include(api.urls)),
    path("api/courses/<slug:course_code>/reports/modules/", reports_api.ModuleReportView.as_view(),
         name="module-report"),
    # Screening is institution-wide (screeners, administrators): not under a course.
    path("api/screening/queue/", screening_api.ScreeningQueueView.as_view(), name="screening-queue"),
    path("api/screening/queue/<int:feedback_id>/decision/", screening_api.ScreeningDecisionView.as_view(),
         name="screening-decision"),
    path("api/screening/report/", screening_api.ScreeningReportView.as_view(), name="screening-report"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
         name="api-redoc"),
    path("lti/", include("courses.lti.urls")),
    path("surveys/", include("courses.surveys.urls")),
    path("reports/", include("classifiers.reports.urls")),
]
