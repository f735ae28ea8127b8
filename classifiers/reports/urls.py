"""Report URLs, mounted at reports/ with the namespace `reports` (the LTI launch redirects here)."""

from django.urls import path

from classifiers.reports import views

app_name = "reports"

urlpatterns = [
    path("<slug:course_code>/", views.course_report, name="course_report"),
    path("<slug:course_code>/export.csv", views.course_report_csv, name="course_report_csv"),
    path("<slug:course_code>/override/", views.override_gate, name="override_gate"),
]
