from django.urls import path

from orchestration import views

app_name = "orchestration"
urlpatterns = [
    path("agents/<slug:slug>/hire/", views.hire, name="hire"),
    path("agents/<slug:slug>/run/", views.run, name="run"),
    path("my/hirings/", views.my_hirings, name="my_hirings"),
    path("my/hirings/<uuid:pk>/cancel/", views.hiring_cancel, name="hiring_cancel"),
    path("my/executions/", views.my_executions, name="my_executions"),
    path("executions/<uuid:pk>/", views.execution_detail, name="execution_detail"),
    path("executions/<uuid:pk>/panel/", views.execution_panel, name="execution_panel"),
    path("executions/<uuid:pk>/cancel/", views.execution_cancel, name="execution_cancel"),
]
