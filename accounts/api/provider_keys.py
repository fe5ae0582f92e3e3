"""A user's own LLM provider keys: /api/provider-keys (and /api/v1/provider-keys).

HubChat tries them, oldest first, before the platform's providers. A key is write-only: the
response to its creation and every later read show its last four characters, never the key.
Managed while signed in only, as API keys are: a program holding an API key cannot add or read them.
"""

import re

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts.models import ProviderKey
from accounts.services import provider_key_create
from agenthub.api.ownership import OwnedQuerysetMixin

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
_KEY_CHARACTERS = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: what every provider issues


class ProviderKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderKey
        fields = ["id", "provider", "label", "base_url", "model", "last_four", "created_at"]
        read_only_fields = fields


class ProviderKeyInput(serializers.Serializer):
    provider = serializers.ChoiceField(choices=ProviderKey.Provider.choices)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    api_key = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", write_only=True,
        style={"input_type": "password"}, help_text="Required for anthropic and openai; shown never again.",
    )
    base_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="",
        help_text="openai_compatible only: the server's API root, e.g. https://llm.example.com/v1.",
    )
    model = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                  help_text="Required for openai_compatible; empty: the platform's default model.")

    def validate_api_key(self, value: str) -> str:
        if value and not _KEY_CHARACTERS.fullmatch(value):
            raise serializers.ValidationError("A key has no spaces or special characters.")
        return value


class ProviderKeyViewSet(OwnedQuerysetMixin, mixins.ListModelMixin, mixins.DestroyModelMixin,
                         viewsets.GenericViewSet):
    """Your own LLM provider keys, which HubChat uses before the platform's."""

    queryset = ProviderKey.objects.all()  # scoped to the caller by OwnedQuerysetMixin
    serializer_class = ProviderKeySerializer
    permission_classes = [IsAuthenticated]
    api_keys_allowed = False
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN
    pagination_class = None  # a handful at most (HUBCHAT_MAX_PROVIDER_KEYS)

    def get_queryset(self):
        return super().get_queryset().order_by("created_at", "id")

    @extend_schema(summary="Add a provider key; it is stored encrypted and never shown again",
                   request=ProviderKeyInput, responses={201: ProviderKeySerializer})
    def create(self, request):
        data = ProviderKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        key = provider_key_create(user=request.user, **data.validated_data)
        return Response(ProviderKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Delete a provider key", responses={204: OpenApiResponse(description="Deleted.")})
    def destroy(self, request, *args, **kwargs):
        self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
