"""The Streamlit app (``tokenproof dashboard``): navigation over the pages in ``views/``.

The page files live in ``views/``, not ``pages/``: Streamlit would serve a ``pages/`` folder next to
the entry point as pages of their own, bypassing this navigation (and its page config) on direct links.

Every page reads the service API through ``tokenproof.dashboards.data``; the service URL comes from
the ``service_url`` setting (``TOKENPROOF_SERVICE_URL``), set by ``tokenproof dashboard --service-url``.
"""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "views"

st.set_page_config(page_title="tokenproof", page_icon=":money_with_wings:", layout="wide")
page = st.navigation([
    st.Page(PAGES / "overview.py", title="Overview", default=True),
    st.Page(PAGES / "attribution.py", title="Attribution explorer"),
    st.Page(PAGES / "alerts.py", title="Alerts and budgets"),
    st.Page(PAGES / "recommendations.py", title="Recommendations"),
    st.Page(PAGES / "routes.py", title="Routes"),
    st.Page(PAGES / "scheduler.py", title="Scheduler"),
])
page.run()
