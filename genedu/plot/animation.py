"""Animations that work without a kernel: a matplotlib animation rendered as self-contained HTML.

    fig, ax = plt.subplots()
    def draw(i):            # redraw frame i on the figure's axes
        ax.clear(); ax.plot(...)
    animate(fig, draw, frames=30)    # the last expression of a cell: an HTML player with a scrub bar

The HTML is matplotlib's ``to_jshtml``: every frame is an embedded PNG and the player's JavaScript is
inline. Its Font Awesome stylesheet link (a CDN) is removed and the button icons are replaced by
Unicode symbols, so the published book needs no CDN and no kernel for it. Keep animations small (tens of frames
at a modest dpi): every frame is stored in the page.
"""
from __future__ import annotations

import re
from typing import Callable

import matplotlib.pyplot as plt
from IPython.display import HTML
from matplotlib.animation import FuncAnimation

from genedu import _validate as v

__all__ = ["animate"]

# matplotlib's player links Font Awesome 4 from a CDN for its button icons; use geometric shapes instead
# (U+25xx: every common font has them, unlike the media symbols U+23Ex).
_CDN_STYLESHEET = re.compile(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">')
_ICONS = {"fa fa-minus": "\u2212", "fa fa-fast-backward": "|\u25c0\u25c0", "fa fa-step-backward": "|\u25c0",
          "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "\u25ae\u25ae", "fa fa-play": "\u25b6",
          "fa fa-step-forward": "\u25b6|", "fa fa-fast-forward": "\u25b6\u25b6|", "fa fa-plus": "+"}


def _self_contained(html: str) -> str:
    html = _CDN_STYLESHEET.sub("", html)
    for css_class, symbol in _ICONS.items():
        html = html.replace(f'<i class="{css_class}"></i>', symbol)
    return html


_PLAYER = re.compile(r"(\b(anim\w+) = new Animation\([^;]*\);)")


def _show_frame(html: str, frame: int) -> str:
    """The player's HTML with ``frame`` shown first (matplotlib's player starts at frame 0)."""
    if frame == 0:
        return html
    html, found = _PLAYER.subn(lambda m: f"{m.group(1)}\n        {m.group(2)}.set_frame({frame});", html)
    if found != 1:  # matplotlib changed its player: fail loudly rather than show the wrong frame
        raise RuntimeError("animate: could not find matplotlib's player in to_jshtml's output")
    return html


def animate(fig: plt.Figure, draw: Callable[[int], object], frames: int, interval: int = 150,
            dpi: int = 80, loop: bool = True, poster: int = 0) -> HTML:
    """Render ``draw(0), ..., draw(frames - 1)`` on ``fig`` as an HTML player with a scrub bar.

    Args:
        fig: the figure the frames are drawn on (closed afterwards, so it is not shown twice).
        draw: ``draw(i)`` redraws frame ``i`` (clear and redraw the axes, or update artists).
        frames: the number of frames (>= 1).
        interval: milliseconds between frames when playing (default 150).
        dpi: resolution of the embedded frames (default 80; each frame is a PNG in the page).
        loop: whether the player starts in loop mode (default True) or stops at the end.
        poster: the frame the player shows before the reader presses play, and the one a printed
            page or a screenshot shows (default 0, the first; -1 is the last: for a training run or a
            sampler whose first frame is noise or a blank grid).

    Returns:
        an ``IPython.display.HTML`` object; display it as the last expression of a cell.
    """
    if not isinstance(fig, plt.Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not callable(draw):
        raise TypeError(f"draw must be callable as draw(frame_index), got {type(draw).__name__}")
    frames = v.positive_int(frames, "frames")
    interval = v.positive_int(interval, "interval")
    dpi = v.positive_int(dpi, "dpi")
    if isinstance(poster, bool) or not isinstance(poster, int) or not -frames <= poster < frames:
        raise ValueError(f"poster must be a frame index in [-{frames}, {frames - 1}], got {poster!r}")
    old_dpi = fig.get_dpi()
    fig.set_dpi(dpi)
    try:
        animation = FuncAnimation(fig, draw, frames=frames, interval=interval, repeat=loop)
        html = animation.to_jshtml(default_mode="loop" if loop else "once")
    finally:
        fig.set_dpi(old_dpi)
        plt.close(fig)
    return HTML(_show_frame(_self_contained(html), poster % frames))
