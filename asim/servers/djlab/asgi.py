"""ASGI entry point of the lab's project, as ``startproject`` writes it, plus one log line.

    ASIM_SLEEP_S=0.1 python -m uvicorn asim.servers.djlab.asgi:application --workers 1 ...

uvicorn at ``--log-level warning`` says nothing when a worker has started, so each process that
loads the application writes ``asim: worker ready pid=N`` to stderr, as gunicorn's
``post_worker_init`` hook does in `asim.servers.gunicorn_conf`: `asim.lab.procs` counts these
lines to know that all W workers can take requests.
"""

import os
import sys

from django.core.asgi import get_asgi_application

from asim.servers import READY_MARK

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asim.servers.djlab.settings")

application = get_asgi_application()

print(f"{READY_MARK} pid={os.getpid()}", file=sys.stderr, flush=True)
