"""The lab's Django project (the seed's ``servers/dj``), served by gunicorn sync workers.

    ASIM_SLEEP_S=0.1 gunicorn --workers 1 --bind 127.0.0.1:8089 asim.servers.djlab.wsgi

Laid out as ``django-admin startproject`` lays out a project: ``settings``, ``urls`` (the seed's
``index`` view and the admin), ``wsgi``, and ``python -m asim.servers.djlab`` in place of
``manage.py``. The view's sleep comes from ``ASIM_SLEEP_S`` (seconds, default 0.1), read once
when the settings load, so no source file is edited between runs.
"""
