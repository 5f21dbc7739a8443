"""The lab's Django project (the seed's ``servers/dj``), served by gunicorn or uvicorn.

    ASIM_SLEEP_S=0.1 gunicorn --workers 1 --bind 127.0.0.1:8089 asim.servers.djlab.wsgi
    ASIM_SLEEP_S=0.1 python -m uvicorn asim.servers.djlab.asgi:application --port 8089

Laid out as ``django-admin startproject`` lays out a project: ``settings``, ``urls`` (the seed's
``index`` view and the admin), ``wsgi``, ``asgi``, and ``python -m asim.servers.djlab`` in place
of ``manage.py``. The view's sleep comes from ``ASIM_SLEEP_S`` (seconds, default 0.1), read once
when the settings load, so no source file is edited between runs; ``ASIM_DJANGO_VIEW=async``
swaps the seed's sync view for an async one (see `asim.servers.djlab.settings`).
"""
