"""Section 12, the floods: many sessions sending the drawing pad huge values, many visitors uploading huge pictures.

Used by :func:`benchmarks.shared_server.shared_server`.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from pathlib import Path

from benchmarks.shared_server_tools import SECTION, Sampler, Server, errors_on, warm_up


def pad_session(url: str, size: int) -> int | None:
    """One raw websocket session: draw the attack page with the pad, then send it a ``size``-byte value.

    Returns the close code the server answered with (None if it took the value).
    """
    import json

    from streamlit.components.v2.bidi_component.constants import EVENT_DELIM
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    address = url.replace("http://", "ws://") + "/_stcore/stream"
    with connect(address, subprotocols=["streamlit"], max_size=None, open_timeout=30, close_timeout=5) as socket:
        first = BackMsg()
        first.rerun_script.query_string = "input=draw"
        first.rerun_script.page_name = "attack"
        socket.send(first.SerializeToString())
        pad_id, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline:
            message = ForwardMsg()
            message.ParseFromString(socket.recv(timeout=120))
            if message.HasField("delta") and message.delta.new_element.HasField("bidi_component"):
                pad_id = message.delta.new_element.bidi_component.id
            if message.HasField("script_finished") and pad_id is not None:
                break
        big = BackMsg()
        big.rerun_script.query_string = "input=draw"
        big.rerun_script.page_name = "attack"
        state = big.rerun_script.widget_states.widgets.add()
        state.id = f"{pad_id}{EVENT_DELIM}events"  # the pad's trigger widget, as Streamlit names it
        picture = "data:image/png;base64," + "A" * size
        state.json_trigger_value = json.dumps({"drawing": {"id": "x", "picture": picture}})
        try:
            socket.send(big.SerializeToString())
            while True:  # taken: the page reruns to its end; refused: the server closes the connection
                message = ForwardMsg()
                message.ParseFromString(socket.recv(timeout=60))
                if message.HasField("script_finished"):
                    return None
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else -1


def pad_flood(report, quick: bool) -> None:
    """120 sessions each send the pad a 24 MB value: the server's memory before, at the peak, and after."""
    import logging
    from concurrent.futures import ThreadPoolExecutor

    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # the client library's own noise on a dropped send

    from benchmarks.common import family_rss_mb

    server = Server(fashion=False)
    sessions, size = (120, 24_000_000) if not quick else (3, 3_000_000)
    settle, wait = (2.0, 5.0) if not quick else (0.5, 1.0)  # --quick checks the harness, not the numbers
    try:
        pad_session(server.url, 100)  # the app loaded, the model in memory
        time.sleep(settle)
        before = family_rss_mb(server.process.pid)
        with Sampler(server.process.pid) as sampler, ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: pad_session(server.url, size), range(sessions)))
        time.sleep(wait)
        after = family_rss_mb(server.process.pid)
        healthy = pad_session(server.url, 100) is None  # a small value is still taken
    finally:
        server.close()
    refused, said = sum(code is not None for code in codes), sum(code == 1009 for code in codes)
    report.add(
        SECTION,
        f"{sessions} pad sessions each send a {size / 1e6:.0f} MB value: connection closed unread",
        f"{refused} of {sessions} ({said} read the 1009 'too big' frame before the drop)",
        "all",
        refused == sessions,
    )
    report.add(
        SECTION,
        f"server memory before / at the peak / {wait:.0f} s after",
        f"{before:.0f} / {sampler.peak:.0f} / {after:.0f} MB",
        "after within 100 MB of before (3.4 GB before this section's fixes)",
        after - before < 100,
    )
    report.add(
        SECTION, "the server still takes a normal pad value afterwards", "yes" if healthy else "NO", "yes", healthy
    )


def big_picture(fmt: str) -> bytes:
    """A 12-megapixel (4000x3000) lossless picture of one dark digit on white paper: a few hundred bytes to 50 KB."""
    from PIL import Image, ImageDraw

    picture = Image.new("L", (4000, 3000), 255)
    ImageDraw.Draw(picture).line([(2000, 600), (2000, 2400)], fill=0, width=160)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buffer.getvalue()


def big_webp() -> bytes:
    return big_picture("WEBP")


def upload_flood(report, browser_launch, quick: bool, fmt: str) -> None:
    """Sixteen visitors upload a 12-megapixel lossless picture at the same moment: the server's peak memory.

    A WebP is refused from its header (Pillow would decode it at 15 bytes a pixel); a PNG is decoded in full,
    two at a time.
    """
    from benchmarks.common import family_rss_mb

    data = big_picture(fmt)
    answer = "megapixels" if fmt == "WEBP" else "reads it as"
    visitors = 16 if not quick else 2
    server = Server(fashion=False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"digit.{fmt.lower()}"
        path.write_bytes(data)
        try:

            async def visitor(browser, ready: asyncio.Barrier):
                context = await browser.new_context(viewport={"width": 1200, "height": 900})
                page = await context.new_page()
                await page.goto(f"{server.url}/attack?input=upload", timeout=120_000)
                chooser = page.locator("input[type='file']").first
                await chooser.wait_for(state="attached", timeout=120_000)
                await ready.wait()
                started = time.perf_counter()
                await chooser.set_input_files(str(path))
                await page.get_by_text(answer).first.wait_for(timeout=120_000)
                took, errors = time.perf_counter() - started, await errors_on(page)
                await context.close()
                return took, errors

            warmed = []

            async def main():
                async with browser_launch() as browser:
                    await warm_up(browser, server.url)
                    warmed.append(family_rss_mb(server.process.pid))
                    ready = asyncio.Barrier(visitors)
                    return await asyncio.gather(*(visitor(browser, ready) for _ in range(visitors)))

            with Sampler(server.process.pid) as sampler:
                results = asyncio.run(main())
            before = warmed[0]
        finally:
            server.close()
    slowest = max(t for t, _ in results)
    errors = sum(e for _, e in results)
    what = "refused from its header" if fmt == "WEBP" else "decoded in full, two at a time"
    report.add(
        SECTION,
        f"{visitors} visitors upload a 12 MP lossless {fmt} ({len(data) / 1e3:.1f} KB) at once, "
        f"{what}: server tree peak",
        f"{sampler.peak:.0f} MB ({before:.0f} MB before)",
        "< 800 MB (2.7 GB before)" if fmt == "WEBP" else "< 800 MB",
        sampler.peak < 800,
    )
    report.add(
        SECTION,
        "the slowest of them answered after",
        f"{slowest:.1f} s; {errors} exceptions",
        "no exception",
        errors == 0,
    )
