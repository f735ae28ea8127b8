from django.apps import AppConfig


class LtiConfig(AppConfig):
    """EduPlatform's LTI 1.3 tool, hardened on top of django-lti (`lti_tool`) and pylti1p3."""

    name = "courses.lti"
    label = "lti"
    verbose_name = "LTI 1.3"
    default_auto_field = "django.db.models.BigAutoField"
