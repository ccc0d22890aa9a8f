"""The Streamlit glue between ``core`` and the pages, in small modules by responsibility.

- :mod:`dashboard.view`: what a visitor sees, as one immutable :class:`~dashboard.view.View` built from one table
  of field specs (each field's default, its check, its link parser, the pages whose links hold it, what it
  resets): link parsing with notices (``View.from_query``), links (``View.to_query``), changes (``View.with_``).
  No Streamlit.
- :mod:`dashboard.results`: the results layer: every computed result a page shows, declared once with its key
  and its cost class (instant in the page; cached for every visitor; shared work in the server's job system),
  with the datasets and trained models they come from. Pages ask it and import nothing from ``core``.
- :mod:`dashboard.progress`: where slow work stands, drawn in the page (status lines, training progress bars).
- :mod:`dashboard.state`: the session: the view under one key (``current``, ``update``, ``sync_url``), the
  visitor's own digit (pixels kept in the session, never in a link), the notices, the widget keys.
- :mod:`dashboard.sidebar`: the sidebar every page draws; it returns the view.
- :mod:`dashboard.widgets`: the pages' controls, each bound to a field of the view (controls only control).
- :mod:`dashboard.drawing_pad`: the drawing pad (a v2 component) and what the server keeps of it.
- :mod:`dashboard.failures`: what a page shows when its model or data cannot be had.
- :mod:`dashboard.pictures`, :mod:`dashboard.wording`: pictures of digits, and the sentences and class names
  the pages share (no Streamlit).
- :mod:`dashboard.charts`, :mod:`dashboard.attack_charts`, :mod:`dashboard.comparison_charts`: the
  Altair charts (data in, chart out; no Streamlit).

``core`` never imports Streamlit or Altair. Pages take the view from the sidebar and get everything else from
the results layer; only ``state``, ``widgets``, ``sidebar`` and ``drawing_pad`` read or write
``st.session_state`` (tests check all three rules).
"""
