from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from agenthub.api.exceptions import error_response
from agenthub.api.ownership import OwnedQuerysetMixin
from billing import stripe_gateway, stripe_services
from billing.api import serializers as s
from billing.models import CreditPlan, CreditPlanSubscription, StripePayment
from billing.services import account_for


class TopUpView(APIView):
    """Top up the wallet by card: a Stripe Checkout URL or a PaymentIntent client secret. The wallet
    is credited when Stripe's signed webhook says the payment succeeded, never before."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=s.TopUpInput, responses={201: s.TopUpResult})
    def post(self, request):
        data = s.TopUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        top_up = stripe_services.topup_create(user=request.user, **data.validated_data)
        payment = top_up.payment
        body = {"id": payment.pk, "amount": payment.amount, "amount_cents": payment.amount_cents,
                "status": s.SEED_STATUS.get(payment.status, payment.status)}
        if top_up.checkout_url:
            body["checkout_url"] = top_up.checkout_url
        if top_up.client_secret:
            body["client_secret"] = top_up.client_secret
        return Response(body, status=status.HTTP_201_CREATED)


class TopUpSimulateView(APIView):
    """Development only (DEBUG on, no Stripe key): credit the wallet as a paid top-up would. 404 otherwise."""

    permission_classes = [permissions.IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        # Before authentication: with DEBUG off this endpoint does not exist, for anyone.
        if not stripe_services.simulation_available():
            raise Http404
        super().initial(request, *args, **kwargs)

    @extend_schema(request=s.SimulatedTopUpInput, responses={201: s.SimulatedTopUpResult})
    def post(self, request):
        data = s.SimulatedTopUpInput(data=request.data)
        data.is_valid(raise_exception=True)
        posted = stripe_services.topup_simulate(user=request.user, amount=data.validated_data["amount"])
        wallet = account_for(user=request.user)
        amount = posted.entries.get(account=wallet).amount
        return Response({"id": posted.pk, "amount": amount, "simulated": True, "memo": posted.memo,
                         "balance": wallet.balance}, status=status.HTTP_201_CREATED)


class StripePaymentViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Seed 004's Stripe payments: your card top-ups (balance_load) and external tool costs (card_spend)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.StripePaymentSerializer
    queryset = StripePayment.objects.select_related("agent")
    filterset_fields = ["type"]


class CreditPlanViewSet(viewsets.ReadOnlyModelViewSet):
    """Credit plans: a monthly card subscription that loads BB on the wallet each time it is paid."""

    permission_classes = [permissions.IsAuthenticatedOrReadOnly]
    serializer_class = s.CreditPlanSerializer
    pagination_class = None

    def get_queryset(self):
        return stripe_services.credit_plan_list()

    @extend_schema(request=s.SubscribeInput, responses={201: s.SubscribeResult})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def subscribe(self, request, pk=None):
        plan: CreditPlan = self.get_object()
        data = s.SubscribeInput(data=request.data)
        data.is_valid(raise_exception=True)
        subscribed = stripe_services.credit_plan_subscribe(
            user=request.user, plan=plan, payment_method=data.validated_data.get("payment_method") or None)
        body = {}
        if subscribed.subscription:
            body["subscription"] = s.CreditPlanSubscriptionSerializer(subscribed.subscription).data
        if subscribed.checkout_url:
            body["checkout_url"] = subscribed.checkout_url
        return Response(body, status=status.HTTP_201_CREATED)


class CreditPlanSubscriptionViewSet(OwnedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Your credit-plan subscriptions; cancel one (no further invoice, BB already loaded stay)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.CreditPlanSubscriptionSerializer
    queryset = CreditPlanSubscription.objects.select_related("plan")
    filterset_fields = ["status"]

    @extend_schema(request=None, responses={200: s.CreditPlanSubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        subscription = stripe_services.credit_plan_cancel(subscription=self.get_object())
        return Response(s.CreditPlanSubscriptionSerializer(subscription).data)


@extend_schema(exclude=True)
@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events. A plain Django view: the signature covers the raw body, which no parser may touch."""
    try:
        outcome = stripe_services.webhook_receive(payload=request.body,
                                                  signature=request.headers.get("Stripe-Signature"))
    except stripe_gateway.WebhookSignatureInvalid as error:
        return error_response(400, error.code, error.message)
    except stripe_services.WebhookNotConfigured as error:
        return error_response(503, error.code, error.message)
    except (stripe_gateway.StripeUnavailable, stripe_gateway.StripeNotConfigured) as error:
        # Reading Stripe failed mid-handling: nothing was written; Stripe retries the event.
        return error_response(503, error.code, error.message)
    return JsonResponse({"received": True, "outcome": outcome})
