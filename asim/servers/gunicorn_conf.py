"""gunicorn settings for the lab's Django project.

    gunicorn -c python:asim.servers.gunicorn_conf --workers W --bind H:P asim.servers.djlab.wsgi

(``--worker-class gthread --threads T`` on the command line for the gthread shape.)

Everything not set here is gunicorn's default, as in the seed's start.sh: sync workers, backlog
2048, timeout 30 s, no access log. Command-line options (``--workers``, ``--bind``) override it.

- Each worker logs ``asim: worker ready pid=N`` once it has loaded the application, so
  `asim.lab.procs.running_server` can wait until all W workers can take requests.
- gunicorn 27's control socket is off (see below).
- With ``ASIM_TRACE_FILE`` set, the worker class is `asim.servers.gtrace.TracingSyncWorker`.
"""

import os

from asim.servers import READY_MARK

# gunicorn >= 27 opens a control socket at one fixed path per user; several lab servers run at
# once, and nothing here uses it.
control_socket_disable = True

if os.environ.get("ASIM_TRACE_FILE"):
    worker_class = "asim.servers.gtrace.TracingSyncWorker"


def post_worker_init(worker):
    worker.log.info("%s pid=%s", READY_MARK, worker.pid)
