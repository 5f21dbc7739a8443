"""The lab's two real servers: aiohttp (`asim.servers.aio`) and Django under gunicorn
(`asim.servers.djlab`), plus their optional request trace (`asim.servers.trace`).

Nothing here imports the model; `asim.lab.procs` starts and stops these as processes.
"""
