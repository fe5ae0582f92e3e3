from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/top-up/", views.top_up, name="top_up"),
    path("wallet/top-up/simulate/", views.top_up_simulate, name="top_up_simulate"),
    path("wallet/caps/", views.caps, name="caps"),
    path("wallet/notices/<uuid:pk>/dismiss/", views.notice_dismiss, name="notice_dismiss"),
    path("wallet/plans/<uuid:pk>/subscribe/", views.plan_subscribe, name="plan_subscribe"),
    path("wallet/subscriptions/<uuid:pk>/cancel/", views.plan_cancel, name="plan_cancel"),
    path("wallet/payments/", views.payments, name="payments"),
    path("wallet/statements/", views.statements, name="statements"),
    path("wallet/earnings/", views.earnings, name="earnings"),
]
