"""Routes of the monitoring pages (mounted at the site's root, namespace ``monitoring``)."""

from __future__ import annotations

from django.urls import path

from rfatrial.server.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("queries/", views.queries_page, name="queries"),
    path("queries/<int:pk>/", views.query_page, name="query"),
    path(
        "patients/<int:pk>/records/<slug:kind>/<int:ref>/query/",
        views.open_query_view,
        name="open_query",
    ),
    path("patients/<int:pk>/records/<slug:kind>/<int:ref>/sign/", views.sign_view, name="sign"),
    path(
        "patients/<int:pk>/casebook/sign/", views.sign_view, {"kind": "casebook"}, name="casebook"
    ),
    path("patients/<int:pk>/records/<slug:kind>/<int:ref>/lock/", views.lock_view, name="lock"),
    path("patients/<int:pk>/monitoring/<slug:kind>/new/", views.vitals_view, name="vitals_new"),
    path(
        "patients/<int:pk>/monitoring/<slug:kind>/<int:ref>/", views.vitals_view, name="vitals_edit"
    ),
]
