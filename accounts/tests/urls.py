"""The real URLconf plus views that declare scopes, as other apps' views will."""

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasScope
from agenthub.urls import urlpatterns as real_urlpatterns


@api_view(["POST"])
@permission_classes([IsAuthenticated, HasScope("invoke")])
def run_with_permission(request):
    return Response({"ran": True})


class RunWithAttribute(APIView):
    permission_classes = [IsAuthenticated]
    required_scope = {"post": "invoke"}

    def get(self, request):
        return Response({"read": True})

    def post(self, request):
        return Response({"ran": True})


urlpatterns = [
    path("api/test/run-permission", run_with_permission),
    path("api/test/run-attribute", RunWithAttribute.as_view()),
    *real_urlpatterns,
]
