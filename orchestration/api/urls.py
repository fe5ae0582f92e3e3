from django.urls import path

from agenthub.api.routers import OptionalSlashRouter
from orchestration.api import views

router = OptionalSlashRouter()
router.register("hirings", views.HiringViewSet, basename="hiring")
router.register("executions", views.ExecutionViewSet, basename="execution")

urlpatterns = [
    path("agents/register", views.RegisterAgentView.as_view(), name="agent-register"),
    path("agents/<slug:id>/execute", views.ExecuteView.as_view(), name="agent-execute"),
    path("invoke-agent", views.InvokeAgentView.as_view(), name="invoke-agent"),
    *router.urls,
]
