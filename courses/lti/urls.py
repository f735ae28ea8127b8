from django.urls import path

from . import registration_views, views

app_name = "lti"

urlpatterns = [
    path("login/", views.login_initiation, name="login"),
    path("login/<uuid:registration_uuid>/", views.login_initiation, name="login_for"),
    path("launch/", views.launch, name="launch"),
    path("jwks/", views.jwks, name="jwks"),
    path("deep-link/", views.deep_link_submit, name="deep_link_submit"),
    path("canvas.json", views.canvas_config, name="canvas_config"),
    path("course/<slug:course_code>/", views.course_landing, name="course"),
    # LTI Dynamic Registration: a signed-in administrator, or a one-time link issued in admin.
    path("register/", registration_views.dynamic_registration, name="register"),
    path("register/<str:token>/", registration_views.dynamic_registration, name="register_with_link"),
]
