from django.urls import path

from . import views

app_name = "lti"

urlpatterns = [
    path("login/", views.login_initiation, name="login"),
    path("login/<uuid:registration_uuid>/", views.login_initiation, name="login_for"),
    path("launch/", views.launch, name="launch"),
    path("jwks/", views.jwks, name="jwks"),
    path("deep-link/", views.deep_link_submit, name="deep_link_submit"),
    path("canvas.json", views.canvas_config, name="canvas_config"),
    path("course/<slug:course_code>/", views.course_landing, name="course"),
]
