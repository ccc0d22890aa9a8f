"""The Streamlit glue between ``core`` and the pages, in small modules by responsibility.

- :mod:`dashboard.state`: what a visitor sees (the :class:`~dashboard.state.View`), kept in the
  session and in the URL: defaults, link parsing, the reset rules, notices, widget keys.
- :mod:`dashboard.resources`: what all sessions share: datasets, trained models, cached results.
- :mod:`dashboard.heavy`: heavy results every visitor shares (the lab, all pairs, curves): asked once per
  server, one at a time, stopped when nobody waits (:mod:`core.shared_work`).
- :mod:`dashboard.defended`: the defenses page's shared results, per model.
- :mod:`dashboard.drawing_pad`: the drawing pad (a v2 component) and what the server keeps of it.
- :mod:`dashboard.charts`, :mod:`dashboard.attack_charts`, :mod:`dashboard.comparison_charts`: the
  Altair charts (data in, chart out; no Streamlit).
- :mod:`dashboard.widgets`: the shared controls: the sidebar (which returns the view), the image
  pickers, the upload, the epsilon slider.

``core`` never imports Streamlit or Altair; the pages import these modules and get everything they show as
arguments and return values, never through a hidden session key.
"""
