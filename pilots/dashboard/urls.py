from django.urls import path, register_converter

from pilots.dashboard import views

app_name = "dashboard"


class DivisionCodeConverter:
    """A GB/T 2260 code: six ASCII digits (``str`` would take ``５１０１００``, ``\\d`` any Unicode digit)."""

    regex = "[0-9]{6}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(DivisionCodeConverter, "division")

urlpatterns = [
    path("", views.overview, name="overview"),
    path("prefectures/<division:code>/", views.prefecture_detail, name="prefecture"),
    path("pilots/<int:pk>/", views.pilot_detail, name="pilot"),
    path("export/prefectures.xlsx", views.prefecture_export, {"extension": "xlsx"}, name="export-xlsx"),
    path("export/prefectures.csv", views.prefecture_export, {"extension": "csv"}, name="export-csv"),
]
