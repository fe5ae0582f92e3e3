from django.urls import path

from marketplace import views

app_name = "marketplace"
urlpatterns = [
    path("", views.home, name="home"),
    path("trending/", views.trending, name="trending"),
    path("domains/", views.domains, name="domains"),
    path("my/agents/", views.my_agents, name="my_agents"),
    path("my/agents/new/", views.agent_create, name="agent_create"),
    path("agents/<slug:slug>/", views.agent_detail, name="agent_detail"),
    path("agents/<slug:slug>/edit/", views.agent_edit, name="agent_edit"),
    path("agents/<slug:slug>/submit/", views.agent_submit, name="agent_submit"),
    path("agents/<slug:slug>/live/", views.agent_set_live, name="agent_set_live"),
]
