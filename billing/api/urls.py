from django.urls import re_path

from agenthub.api.routers import OptionalSlashRouter
from billing.api import statements, views, wallet

router = OptionalSlashRouter()
router.register("payments/stripe", views.StripePaymentViewSet, basename="stripe-payment")
router.register("payments/bazaarbucks", wallet.BazaarBucksPaymentViewSet, basename="bazaarbucks-payment")
router.register("wallet/entries", wallet.WalletEntryViewSet, basename="wallet-entry")
router.register("wallet/notices", wallet.CapNoticeViewSet, basename="cap-notice")
router.register("billing/plans", views.CreditPlanViewSet, basename="credit-plan")
router.register("billing/subscriptions", views.CreditPlanSubscriptionViewSet, basename="credit-plan-subscription")

urlpatterns = [
    re_path(r"^wallet/?$", wallet.WalletView.as_view(), name="wallet"),
    re_path(r"^wallet/top-ups/?$", views.TopUpView.as_view(), name="wallet-top-ups"),
    re_path(r"^wallet/top-ups/simulate/?$", views.TopUpSimulateView.as_view(), name="wallet-top-up-simulate"),
    re_path(r"^billing/stripe/webhook/?$", views.stripe_webhook, name="stripe-webhook"),
    re_path(r"^billing/statements/?$", statements.StatementView.as_view(), name="billing-statements"),
    re_path(r"^billing/earnings/?$", statements.EarningsView.as_view(), name="billing-earnings"),
    *router.urls,
]
