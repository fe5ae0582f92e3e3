from django.urls import path

from agenthub.api.routers import OptionalSlashRouter
from marketplace.api import views

router = OptionalSlashRouter()
router.register("agents", views.AgentViewSet, basename="agent")
router.register("search", views.SearchView, basename="search")

urlpatterns = [
    path("analytics/stats", views.analytics_stats, name="analytics-stats"),
    path("analytics/trending", views.analytics_trending, name="analytics-trending"),
    path("analytics/by-domain", views.analytics_by_domain, name="analytics-by-domain"),
    *router.urls,
]
