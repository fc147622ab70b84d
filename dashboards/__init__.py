"""tokenproof.dashboards: the Streamlit app (``tokenproof dashboard``).

``app.py`` is the entry point (navigation), ``views/`` (the pages) only lay out, ``data.py`` holds the cached
reads and the writes (through ``tokenproof.client.ServiceClient``, never the store), ``charts.py``
the Altair charts and ``session.py`` the write credential and error display. May import core and
Streamlit/Altair; nothing imports this package.
"""
