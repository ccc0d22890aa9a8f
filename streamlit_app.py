"""Adversarial Digits: train a softmax classifier on MNIST, then fool it with the gradient sign method.

Run with ``streamlit run streamlit_app.py``. This file reads as a table of
contents: start the first visit's model, list the pages, run the chosen one,
and keep the URL in step with what it shows. Each page draws the shared
sidebar itself and gets the view from it.
"""

import ctypes
import ctypes.util

import streamlit as st

from core.inputs.settings import TrainingSettings


def return_freed_memory_to_the_system() -> None:
    """Large blocks (1 MB and up: image arrays, decoded pictures) come from and go back to the system at once.

    glibc otherwise raises that threshold as big blocks are freed and keeps what
    they held in per-thread arenas: every session has a thread, so a server that
    once computed for many visitors stayed gigabytes large after they left.
    Elsewhere (not glibc) this does nothing.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD: fixed at 1 MB (no longer adjusted upward)
    except (OSError, AttributeError):
        pass


return_freed_memory_to_the_system()

from core.jobs.models import prefetch  # noqa: E402

# A first visit needs the default model: start training it now, while the rest of the app loads.
prefetch(TrainingSettings.first_visit())

from dashboard import results, state  # noqa: E402
from dashboard.failures import confirmation_ui, unavailable_ui  # noqa: E402
from dashboard.view import inert  # noqa: E402

st.set_page_config(page_title="Adversarial Digits", page_icon="🎯", layout="wide")

PAGES = {
    "lesson": ("app_pages/lesson.py", "Lesson", ":material/school:"),
    "training": ("app_pages/training.py", "Training accuracy", ":material/model_training:"),
    "attack": ("app_pages/attack.py", "Per-image attack", ":material/target:"),
    "epsilon": ("app_pages/epsilon.py", "Epsilon chart", ":material/show_chart:"),
    "lab": ("app_pages/lab.py", "Attack lab", ":material/science:"),
    "pairs": ("app_pages/pairs.py", "All pairs", ":material/grid_view:"),
    "defenses": ("app_pages/defenses.py", "Defenses", ":material/shield:"),
    "network": ("app_pages/network.py", "Beyond linear", ":material/hub:"),
}
START_PAGE = "attack"


def _asked_path() -> str:
    """The path of the address the visitor opened ('' for the site's root)."""
    url = st.context.url or ""
    return url.split("://", 1)[-1].partition("/")[2].strip("/")


def navigation() -> tuple[st.navigation, str | None]:
    """The pages, each at its own path; the site's root opens the one a link's ``?page=`` names."""
    pages = {key: st.Page(path, title=title, icon=icon, url_path=key) for key, (path, title, icon) in PAGES.items()}

    def home():
        state.current()
        wanted = st.query_params.get("page", START_PAGE)
        asked = _asked_path()
        if asked not in ("", "home"):
            state.notice(f"There is no page {inert('/' + asked)} here; opening {PAGES[START_PAGE][1]}.")
            wanted = START_PAGE
        elif wanted not in PAGES:
            state.notice(f"The link's page={inert(wanted)} is not a page here; opening {PAGES[START_PAGE][1]}.")
            wanted = START_PAGE
        kept = {key: value for key, value in st.query_params.items() if key != "page"}
        st.switch_page(pages[wanted], query_params=kept)

    root = st.Page(home, title="Adversarial Digits", url_path="home", default=True, visibility="hidden")
    current = st.navigation([root, *pages.values()])
    return current, next((key for key, page in pages.items() if page.url_path == current.url_path), None)


def main() -> None:
    results.page_run_started()
    current, key = navigation()
    if key is None:  # the root: on to the right page (notices wait for it)
        current.run()
        return
    try:
        current.run()
    except results.ModelUnavailable as failure:
        unavailable_ui(failure)
        return
    except results.NeedsConfirmation as asked:
        confirmation_ui(asked)
        return
    except results.NothingToShow as reason:
        st.warning(str(reason), icon="⚠️")
        return
    finally:
        state.sync_url(key)


main()
