"""The seed's ``dj/urls.py``: ``index`` sleeps S seconds; the admin is mounted as in the seed."""

import time

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

SLEEP_S: float = settings.ASIM_SLEEP_S


def index(request):
    time.sleep(SLEEP_S)
    return HttpResponse(status=200, content="Hello, Anonymous")


if settings.ASIM_TRACE:
    from asim.servers.gtrace import traced_view

    index = traced_view(index)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", index),
]
