"""Page furniture shared by every page: the service URL, the write credential and error display.

The write credential (the service's API token) is asked for in the sidebar with a password field
and kept in this browser session's state only: it is never written to disk, logged, put in a URL or
shown back. Reads send it only to the endpoints the service guards with its read scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from tokenproof.dashboards import data

__all__ = ["credential", "guarded", "header", "scoped", "write"]

T = TypeVar("T")
_TOKEN = "_tokenproof_write_credential"
_FIELD = "tokenproof_write_credential_field"


def header(title: str, caption: str) -> str:
    """Page title and caption; returns the service URL the page reads."""
    st.title(title)
    url = data.service_url()
    st.caption(f"{caption} · service {url}")
    return url


def _keep() -> None:
    st.session_state[_TOKEN] = st.session_state.get(_FIELD, "")


def credential() -> str:
    """The write credential from the sidebar's password field ('' when none was given)."""
    if _FIELD not in st.session_state and st.session_state.get(_TOKEN):
        st.session_state[_FIELD] = st.session_state[_TOKEN]
    st.sidebar.text_input("Write credential (API token)", type="password", key=_FIELD, on_change=_keep,
                          help="Needed for actions (acknowledge, budgets, shadow runs, pushing and rolling "
                               "back routes) and to read prompts, answers and the routing registry. Kept in "
                               "this browser session only; never stored or shown.")
    _keep()
    return str(st.session_state.get(_TOKEN, ""))


def guarded(fetch: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call a data function; on a service error show it on the page and return None."""
    try:
        return fetch(*args, **kwargs)
    except data.ServiceError as exc:
        st.error(f"The tokenproof service did not answer: {exc}")
        return None


def scoped(note: str, fetch: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call a data function behind the service's read scope: a refusal (no or wrong credential) shows
    ``note`` as a hint instead of an error; other service errors show as errors. None when refused."""
    try:
        return fetch(*args, **kwargs)
    except data.ServiceError as exc:
        if exc.status in (401, 403):
            st.info(f"{note} The service said: {exc}")
        else:
            st.error(f"The tokenproof service did not answer: {exc}")
        return None


def write(label: str, action: Callable[..., T], *args: Any) -> T | None:
    """Run a write; show what happened (refusals included) and return the answer or None."""
    try:
        result = action(*args)
    except data.ServiceError as exc:
        if exc.status in (401, 403):
            st.error(f"{label}: refused by the service ({exc}). Enter the write credential in the sidebar.")
        else:
            st.error(f"{label}: {exc}")
        return None
    st.success(f"{label}: done")
    return result
