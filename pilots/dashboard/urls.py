from django.urls import path

from pilots.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("prefectures/<str:code>/", views.prefecture_detail, name="prefecture"),
    path("pilots/<int:pk>/", views.pilot_detail, name="pilot"),
    path("export/prefectures.xlsx", views.prefecture_export, {"extension": "xlsx"}, name="export-xlsx"),
    path("export/prefectures.csv", views.prefecture_export, {"extension": "csv"}, name="export-csv"),
]
