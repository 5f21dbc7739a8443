"""The seed's ``dj/urls.py``: ``index`` sleeps S seconds; the admin is mounted as in the seed.

With ``ASIM_DJANGO_VIEW=async`` the root URL is ``async_index`` instead, which awaits the sleep.
"""

import asyncio
import time

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

SLEEP_S: float = settings.ASIM_SLEEP_S


def index(request):
    time.sleep(SLEEP_S)
    return HttpResponse(status=200, content="Hello, Anonymous")


async def async_index(request):
    await asyncio.sleep(SLEEP_S)
    return HttpResponse(status=200, content="Hello, Anonymous")


if settings.ASIM_TRACE:
    from asim.servers.gtrace import traced_view

    index = traced_view(index)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", async_index if settings.ASIM_VIEW == "async" else index),
]
