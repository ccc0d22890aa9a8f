"""Adversarial Digits: train a softmax classifier on MNIST, then fool it with the gradient sign method.

Run with ``streamlit run streamlit_app.py``.
"""

import streamlit as st

from core.settings import TrainingSettings
from core.training_queue import prefetch

# A first visit needs the default model: start training it now, while the rest of the app loads.
prefetch(TrainingSettings.first_visit())

import dashboard  # noqa: E402

st.set_page_config(page_title="Adversarial Digits", page_icon="🎯", layout="wide")

PAGES = {
    "training": ("app_pages/training.py", "Training accuracy", ":material/model_training:"),
    "attack": ("app_pages/attack.py", "Per-image attack", ":material/target:"),
    "epsilon": ("app_pages/epsilon.py", "Epsilon chart", ":material/show_chart:"),
}
START_PAGE = "attack"


def navigation() -> tuple[st.navigation, str | None]:
    """The three pages, each at its own path; the site's root opens the one a link's ``?page=`` names."""
    pages = {key: st.Page(path, title=title, icon=icon, url_path=key) for key, (path, title, icon) in PAGES.items()}

    def home():
        wanted = st.query_params.get("page", START_PAGE)
        if wanted not in PAGES:
            shown = dashboard.inert(wanted)
            dashboard.notice(f"The link's page={shown} is not a page here; opening {PAGES[START_PAGE][1]}.")
            wanted = START_PAGE
        kept = {key: value for key, value in st.query_params.items() if key != "page"}
        st.switch_page(pages[wanted], query_params=kept)

    root = st.Page(home, title="Adversarial Digits", url_path="home", default=True, visibility="hidden")
    current = st.navigation([root, *pages.values()])
    return current, next((key for key, page in pages.items() if page.url_path == current.url_path), None)


def main() -> None:
    dashboard.init_state()
    st.session_state["_view"] = dashboard.sidebar()
    current, key = navigation()
    with st.sidebar:
        st.caption(
            "Linear models are easy to fool: the same small, structured nudge works on almost every image. "
            "Every epsilon here is exact, not searched."
        )
    if key is None:  # the root: on to the right page (notices wait for it)
        current.run()
        return
    dashboard.show_notices()
    try:
        current.run()
    finally:
        dashboard.sync_url(key)
    dashboard.warm_up_in_background()


main()
