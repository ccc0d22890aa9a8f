"""The drawing pad: a canvas in the page (Streamlit's own v2 components, inline HTML and JS, no build step).

White ink on black, as MNIST; mouse, pen and touch (``touch-action: none``
keeps a finger from scrolling the page); undo and clear. When a stroke ends,
the pad sends its 280x280 picture as a PNG data URL (about 5-15 KB) as a
one-shot *trigger* value, which :mod:`core.inputs.imaging` reads and prepares exactly
as an uploaded picture. The server keeps only the prepared 28x28 image and a
short id: the trigger is gone after the rerun, so a huge or refused value
leaves nothing in the session (and ``server.maxMessageSize`` refuses anything
over 2 MB before it is read). The picture itself stays in the browser tab's
``sessionStorage`` under that id, which brings the strokes back when the page
is opened again. Never in the URL, never on disk.
"""

from __future__ import annotations

import streamlit as st

from core.errors import ImageRejected
from core.inputs.imaging import preprocess_drawing, read_drawing
from dashboard import state
from dashboard.state import WidgetKey

SIDE = 280  # canvas pixels: 10 per MNIST pixel
PEN = 18  # stroke width on the canvas: about two MNIST pixels once fitted into 20x20, as MNIST's strokes

HTML = f"""
<div class="pad">
  <canvas width="{SIDE}" height="{SIDE}" aria-label="Drawing pad: draw one digit"></canvas>
  <div class="tools">
    <button type="button" data-action="undo">Undo</button>
    <button type="button" data-action="clear">Clear</button>
  </div>
</div>
"""

CSS = """
.pad { display: flex; flex-direction: column; gap: 0.5rem; width: min(100%, 280px); }
canvas {
  width: 100%; aspect-ratio: 1; background: #000; cursor: crosshair; touch-action: none;
  border-radius: var(--st-base-radius, 0.5rem); border: 1px solid var(--st-border-color, #888);
}
.tools { display: flex; gap: 0.5rem; }
button {
  flex: 1; padding: 0.35rem 0.75rem; font: inherit; cursor: pointer;
  color: var(--st-text-color, inherit); background: var(--st-background-color, transparent);
  border: 1px solid var(--st-border-color, #888); border-radius: var(--st-button-radius, 0.5rem);
}
button:hover { border-color: var(--st-primary-color, #f63366); color: var(--st-primary-color, #f63366); }
"""

JS = """
export default function ({ parentElement, data, setTriggerValue }) {
  const canvas = parentElement.querySelector("canvas");
  if (canvas.dataset.ready) return;  // a rerun: the pad keeps its strokes
  canvas.dataset.ready = "1";
  const context = canvas.getContext("2d");
  const strokes = [];
  let base = null;  // a drawing brought back after the page was left and opened again
  let current = null;
  const STORE = "adversarial-digits-drawing";  // this tab's last drawing: {id, picture}

  const paint = () => {
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    if (base) context.drawImage(base, 0, 0);
    context.strokeStyle = "#fff";
    context.lineWidth = data.pen;
    context.lineCap = "round";
    context.lineJoin = "round";
    for (const stroke of strokes) {
      context.beginPath();
      context.moveTo(stroke[0][0], stroke[0][1]);
      for (const [x, y] of stroke) context.lineTo(x, y);
      context.stroke();
    }
  };
  const send = () => {
    const picture = strokes.length || base ? canvas.toDataURL("image/png") : null;
    const id = picture ? Date.now().toString(36) + Math.random().toString(36).slice(2, 10) : null;
    try {
      if (picture) sessionStorage.setItem(STORE, JSON.stringify({ id, picture }));
      else sessionStorage.removeItem(STORE);
    } catch (error) { /* storage full or off: the pad still works, it just starts empty next time */ }
    setTriggerValue("drawing", { id, picture });
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    const scale = canvas.width / box.width;
    return [(event.clientX - box.left) * scale, (event.clientY - box.top) * scale];
  };

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [at(event)];
    strokes.push(current);
    paint();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    for (const each of event.getCoalescedEvents ? event.getCoalescedEvents() : [event]) current.push(at(each));
    paint();
  });
  const end = () => {
    if (!current) return;
    current = null;
    send();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  parentElement.querySelector("[data-action=undo]").addEventListener("click", () => {
    if (strokes.length) strokes.pop(); else base = null;
    paint();
    send();
  });
  parentElement.querySelector("[data-action=clear]").addEventListener("click", () => {
    strokes.length = 0;
    base = null;
    paint();
    send();
  });
  paint();
  let kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(STORE) || "null"); } catch (error) { kept = null; }
  if (data.drawing_id && kept && kept.id === data.drawing_id && typeof kept.picture === "string") {
    const picture = new Image();  // the drawing the server still holds, brought back from this tab
    picture.onload = () => { base = picture; paint(); };
    picture.src = kept.picture;
  }
}
"""

_pad = st.components.v2.component("adversarial_digits.drawing_pad", html=HTML, css=CSS, js=JS)


def _received() -> None:
    """Prepare the pad's picture once per stroke; keep only the 28x28 result (and the drawing's id) in this session."""
    sent = st.session_state.get(WidgetKey.PAD) or {}
    sent = sent.get("drawing") if isinstance(sent, dict) else None  # the trigger: {id, picture}, this rerun only
    picture, drawing_id = (sent.get("picture"), sent.get("id")) if isinstance(sent, dict) else (None, None)
    pixels, problem = None, None
    if picture is not None:
        try:
            pixels = preprocess_drawing(read_drawing(picture))
            pixels.flags.writeable = False
        except ImageRejected as error:
            problem = str(error)
    kept_id = drawing_id if pixels is not None and _is_drawing_id(drawing_id) else None
    state.keep_drawing(pixels, kept_id, problem)  # a new drawing starts at its own minimal epsilon


def _is_drawing_id(value) -> bool:
    """The pad's own ids are short base-36 strings; anything else is not kept."""
    return isinstance(value, str) and 0 < len(value) <= 32 and value.isascii() and value.isalnum()


def drawing_pad() -> str | None:
    """Draw the pad; returns why the last drawing was refused, if it was (an empty pad is no error)."""
    drawing_id, problem = state.drawing_kept()
    _pad(key=WidgetKey.PAD, data={"pen": PEN, "drawing_id": drawing_id}, on_drawing_change=_received, width="content")
    return None if problem is None or "empty" in problem else problem
