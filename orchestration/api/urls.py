from django.urls import path

from agenthub.api.routers import OptionalSlashRouter
from orchestration.api import tasks, views
from orchestration.hubchat import events

router = OptionalSlashRouter()
router.register("hirings", views.HiringViewSet, basename="hiring")
router.register("executions", views.ExecutionViewSet, basename="execution")
router.register("tasks", tasks.TaskViewSet, basename="task")

urlpatterns = [
    path("agents/register", views.RegisterAgentView.as_view(), name="agent-register"),
    path("agents/<slug:id>/execute", views.ExecuteView.as_view(), name="agent-execute"),
    path("invoke-agent", views.InvokeAgentView.as_view(), name="invoke-agent"),
    path("hubchat/message", tasks.HubChatMessageView.as_view(), name="hubchat-message"),
    path("messages", tasks.MessageListView.as_view(), name="messages"),
    *router.urls,
    path("tasks/<uuid:pk>/events", events.TaskEventsView.as_view(), name="task-events"),
]
