"""The seed's urls.py: `index` sleeps ``ASIM_SLEEP_S`` seconds with time.sleep, then answers."""

import os
import time

from django.contrib import admin
from django.http import HttpResponse
from django.urls import path

SLEEP_S = float(os.environ.get("ASIM_SLEEP_S", "0.1"))


def index(request):
    if SLEEP_S > 0:
        time.sleep(SLEEP_S)
    return HttpResponse(status=200, content="Hello, Anonymous")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("", index),
]
