from django.urls import path

from . import views

app_name = "surveys"

urlpatterns = [
    path("<int:survey_id>/", views.survey_page, name="survey"),
    path("<int:survey_id>/thanks/", views.thanks_page, name="thanks"),
]
