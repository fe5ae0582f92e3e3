"""The real URLconf plus a few test-only views (use with `@pytest.mark.urls("agenthub.tests.urls")`)."""

from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from agenthub.celery import app as celery_app
from agenthub.logging import get_request_id
from agenthub.tests.tasks import report_request_id
from agenthub.urls import urlpatterns as real_urlpatterns


class Boom(Exception):
    pass


def plain_django_boom(request):
    raise Boom("secret internals: password=hunter2")


@api_view(["GET"])
@permission_classes([AllowAny])
def drf_boom(request):
    raise Boom("secret internals: password=hunter2")


@api_view(["POST"])
@permission_classes([AllowAny])
def enqueue_report_request_id(request):
    result = report_request_id.delay()
    body = {"task_id": result.id, "request_id_after": get_request_id()}
    if celery_app.conf.task_always_eager:
        body["task_saw"] = result.get()  # it already ran, inline
    return Response(body, status=202)


urlpatterns = [
    path("api/test/django-boom", plain_django_boom),
    path("api/test/drf-boom", drf_boom),
    path("api/test/enqueue", enqueue_report_request_id),
    *real_urlpatterns,
]
