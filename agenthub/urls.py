from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agenthub.api import views as ops

api_patterns = [
    path("health", ops.health, name="health"),
    path("status", ops.status_view, name="status"),
    path("", include("accounts.api.urls")),
    path("", include("orchestration.api.urls")),
    path("", include("marketplace.api.urls")),
    path("", include("billing.api.urls")),
]

urlpatterns = [
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include((api_patterns, "api"), namespace="api-v1")),
    path("api/", include((api_patterns, "api"), namespace="api")),
    path("metrics", ops.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("orchestration.urls")),
    path("", include("orchestration.hubchat.urls")),
    path("", include("billing.urls")),
    path("", include("marketplace.urls")),
]
