"""Routes of the web application (mounted at the site's root)."""

from __future__ import annotations

from django.urls import include, path

from rfatrial.server.web import dashboard, dates, enrol, entry, planner, report_view, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("sites/", views.sites_view, name="sites"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist.csv", views.worklist_csv, name="worklist_csv"),
    path("worklist.ics", views.worklist_ics, name="worklist_ics"),
    path("patients/", views.patients, name="patients"),
    path("patients/new/", enrol.enrol_view, name="enrol"),
    path("patients/<int:pk>/", views.patient_page, name="patient"),
    path("patients/<int:pk>/randomize/", enrol.randomize_view, name="randomize"),
    path("patients/<int:pk>/events/<int:seq>/", entry.amend_view, name="amend"),
    path("sites/<str:code>/settings/", dates.site_settings_view, name="site_settings"),
    path("patients/<int:pk>/gate/", views.gate_page, name="gate"),
    path("patients/<int:pk>/planner/", planner.planner_page, name="planner"),
    path("patients/<int:pk>/planner/check/", planner.planner_check, name="planner_check"),
    path("patients/<int:pk>/record/<slug:kind>/", entry.record_view, name="record"),
    path("report/", include(report_view.urlpatterns)),
]
