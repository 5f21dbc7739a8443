"""The lab's real servers: aiohttp (`asim.servers.aio`) and the Django project
(`asim.servers.djlab`) under gunicorn (WSGI) or uvicorn (ASGI), plus their optional request trace
(`asim.servers.trace`).

Nothing here imports the model; `asim.lab.procs` starts and stops these as processes.
"""

# Each gunicorn or uvicorn worker logs this once it has loaded the application.
READY_MARK = "asim: worker ready"
