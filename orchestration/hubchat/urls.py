from django.urls import path

from orchestration.hubchat import views

app_name = "hubchat"
urlpatterns = [
    path("hubchat/", views.hubchat, name="hubchat"),
    path("hubchat/turns/<uuid:pk>/", views.turn, name="turn"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<uuid:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<uuid:pk>/panel/", views.task_panel, name="task_panel"),
    path("tasks/<uuid:pk>/confirm/", views.task_confirm, name="task_confirm"),
    path("tasks/<uuid:pk>/cancel/", views.task_cancel, name="task_cancel"),
]
