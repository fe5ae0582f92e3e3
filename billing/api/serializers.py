from rest_framework import serializers

from billing.models import CreditPlan, CreditPlanSubscription, StripePayment
from billing.stripe_services import Mode

# Seed 004's StripePayment statuses are pending | completed | failed; refunds and disputes say so.
SEED_STATUS = {StripePayment.Status.SUCCEEDED: "completed"}


class StripePaymentSerializer(serializers.ModelSerializer):
    """Seed 004's StripePayment, exactly: id, agentId, vendor, amount, status, type, createdAt."""

    agent_id = serializers.SlugRelatedField(source="agent", slug_field="slug", read_only=True)
    status = serializers.SerializerMethodField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=4, read_only=True, help_text="In BB.")

    class Meta:
        model = StripePayment
        fields = ["id", "agent_id", "vendor", "amount", "status", "type", "created_at"]

    def get_status(self, payment) -> str:
        return SEED_STATUS.get(payment.status, payment.status)


class TopUpInput(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=4, help_text="BB (= USD), whole cents.")
    mode = serializers.ChoiceField(
        choices=Mode.ALL, default=Mode.PAYMENT_INTENT, required=False,
        help_text="checkout: a Stripe-hosted page (checkoutUrl); payment_intent: a client secret for Stripe.js.",
    )


class TopUpResult(serializers.Serializer):
    id = serializers.UUIDField(help_text="The StripePayment's id.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=4)
    amount_cents = serializers.IntegerField()
    status = serializers.CharField()
    checkout_url = serializers.URLField(required=False, help_text="mode=checkout: send the browser here.")
    client_secret = serializers.CharField(required=False, help_text="mode=payment_intent: confirm with Stripe.js.")


class SimulatedTopUpInput(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=4)


class SimulatedTopUpResult(serializers.Serializer):
    id = serializers.UUIDField(help_text="The ledger transaction's id.")
    amount = serializers.DecimalField(max_digits=14, decimal_places=4)
    simulated = serializers.BooleanField()
    memo = serializers.CharField()
    balance = serializers.DecimalField(max_digits=14, decimal_places=4)


class CreditPlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditPlan
        fields = ["id", "name", "price_cents", "credits", "active"]


class CreditPlanSubscriptionSerializer(serializers.ModelSerializer):
    plan = CreditPlanSerializer(read_only=True)

    class Meta:
        model = CreditPlanSubscription
        fields = ["id", "plan", "status", "canceled_at", "created_at"]


class SubscribeInput(serializers.Serializer):
    payment_method = serializers.CharField(
        max_length=255, required=False, allow_blank=True,
        help_text="A Stripe PaymentMethod id (pm_...) from Stripe.js; without it, a checkoutUrl to give a card on.",
    )


class SubscribeResult(serializers.Serializer):
    subscription = CreditPlanSubscriptionSerializer(required=False)
    checkout_url = serializers.URLField(required=False)
