"""The Streamlit glue between ``core`` and the pages, in small modules by responsibility.

- :mod:`dashboard.view`: what a visitor sees, as one immutable :class:`~dashboard.view.View` (the model's
  settings, the attack, the image, epsilon, the pages' choices): defaults, link parsing with notices
  (``View.from_query``), links (``View.to_query``), the reset rules (``View.with_``). No Streamlit.
- :mod:`dashboard.state`: the session: the view under one key (``current``, ``update``, ``sync_url``),
  the visitor's own digit (pixels kept in the session, never in a link), the notices, the widget keys.
- :mod:`dashboard.sidebar`: the sidebar every page draws; it returns the view.
- :mod:`dashboard.widgets`: the pages' controls, each bound to a field of the view: image pickers, the
  upload, the epsilon slider, the all-pairs and defenses choices, links to the attack page.
- :mod:`dashboard.resources`: what all sessions share: datasets, trained models, cached results.
- :mod:`dashboard.heavy`: heavy results every visitor shares (the lab, all pairs, curves): asked once per
  server, one at a time, stopped when nobody waits (:mod:`core.jobs.work`).
- :mod:`dashboard.robustness`: robustness per model (certified numbers, charts, templates), for the defenses page.
- :mod:`dashboard.drawing_pad`: the drawing pad (a v2 component) and what the server keeps of it.
- :mod:`dashboard.charts`, :mod:`dashboard.attack_charts`, :mod:`dashboard.comparison_charts`: the
  Altair charts (data in, chart out; no Streamlit).

``core`` never imports Streamlit or Altair. Pages take the view from the sidebar and get everything else
as arguments and return values of these modules; only ``state``, ``widgets``, ``sidebar`` and
``drawing_pad`` read or write ``st.session_state`` (a test checks both).
"""
