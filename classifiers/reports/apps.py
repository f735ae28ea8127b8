from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Per-module reports: the summary tables, the privacy rule, pages, CSV, API, alerts and overrides."""

    name = "classifiers.reports"
    label = "reports"
    verbose_name = "Reports"
