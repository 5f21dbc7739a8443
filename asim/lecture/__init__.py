"""Pictures that make queueing visible: run timelines and lecture figures.

`timeline` builds Gantt lanes from per-request stamps, `data` computes the numbers behind each
lecture figure, `figures` draws them (pure functions on an Axes), `captions` holds the English
and Russian texts, `observed` rebuilds stamps from a real run, and `build` writes the files.
"""
