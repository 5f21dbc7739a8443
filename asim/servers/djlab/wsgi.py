"""WSGI entry point of the lab's project, as ``startproject`` writes it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asim.servers.djlab.settings")

application = get_wsgi_application()
