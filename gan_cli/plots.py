"""Line charts of metrics over training steps, drawn with Pillow (no plotting dependency)."""

from __future__ import annotations

import math
from pathlib import Path

CURVE_SIZE = (800, 420)  # pixels: plot area on the left, legend on the right
PALETTE = [  # matplotlib's tab10, so the curves look familiar
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def format_value(value: float | None) -> str:
    """A number as the report shows it, in tables and on axes."""
    if value is None:
        return "—"
    if math.isfinite(value) and (value == int(value) or 1e4 <= abs(value) < 1e9):
        return str(round(value))
    return f"{value:.4g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 × 10^k apart) covering [lo, hi]."""
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    spacing = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / spacing - 1e-9)
    return [i * spacing for i in range(first, math.floor(hi / spacing + 1e-9) + 1)]


def axis_range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def load_font(size: int = 13):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # a scalable font needs Pillow >= 10.1 with FreeType
    except (TypeError, ImportError, OSError, ValueError):
        return ImageFont.load_default()


def plot_curves(
    title: str,
    series: list[tuple[str, list[tuple[int, float]]]],
    path: Path,
    size: tuple[int, int] = CURVE_SIZE,
) -> bool:
    """One line per (label, points) over steps, with axes, tick values and a legend; non-finite
    values leave gaps. Returns False (and writes nothing) when no value is finite."""
    from PIL import Image, ImageDraw

    finite = [(x, y) for _, points in series for x, y in points if math.isfinite(y)]
    if not finite:
        return False
    width, height = size
    left, right, top, bottom = 72, width - 230, 32, height - 44
    x0, x1 = min(0, min(x for x, _ in finite)), max(max(x for x, _ in finite), 1)
    y0, y1 = axis_range([y for _, y in finite])

    def px(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x0) / (x1 - x0) * (right - left),
            bottom - (y - y0) / (y1 - y0) * (bottom - top),
        )

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = load_font()

    def text(xy: tuple[float, float], s: str, align: str = "left", fill=(40, 40, 40)) -> None:
        """``align``: left, right (xy is the right end) or center; xy's y is the text's middle."""
        x0_, y0_, x1_, y1_ = draw.textbbox((0, 0), s, font=font)
        dx = {"left": 0, "right": x1_ - x0_, "center": (x1_ - x0_) / 2}[align]
        draw.text((xy[0] - dx - x0_, xy[1] - (y1_ + y0_) / 2), s, font=font, fill=fill)

    for tick in nice_ticks(y0, y1):
        y = px(x0, tick)[1]
        draw.line([(left, y), (right, y)], fill=(232, 232, 232))
        draw.line([(left - 4, y), (left, y)], fill="black")
        text((left - 7, y), format_value(tick), "right")
    for tick in nice_ticks(x0, x1):
        x = px(tick, y0)[0]
        draw.line([(x, top), (x, bottom)], fill=(232, 232, 232))
        draw.line([(x, bottom), (x, bottom + 4)], fill="black")
        text((x, bottom + 12), format_value(tick), "center")
    draw.rectangle([left, top, right, bottom], outline="black")
    text((left, top / 2), title)
    text(((left + right) / 2, height - 12), "step", "center")

    for i, (_, points) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        segment: list[tuple[float, float]] = []
        for x, y in [*points, (0, math.nan)]:  # the sentinel ends the last segment
            if math.isfinite(y):
                segment.append(px(x, y))
                continue
            if len(segment) > 1:
                draw.line(segment, fill=colour, width=2, joint="curve")
            for cx, cy in segment if len(segment) < 12 else []:  # sparse series: mark the points
                draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=colour)
            segment = []

    legend_x, row = right + 16, 18
    fits = (bottom - top) // row
    shown = series if len(series) <= fits else series[: fits - 1]
    for i, (label, _) in enumerate(shown):
        y = top + row * i + row / 2
        draw.line([(legend_x, y), (legend_x + 18, y)], fill=PALETTE[i % len(PALETTE)], width=3)
        text((legend_x + 24, y), shorten(label, width - legend_x - 30, draw, font))
    if len(shown) < len(series):
        text((legend_x + 24, top + row * len(shown) + row / 2), f"… and {len(series) - len(shown)} more")

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(*WRITTEN_BY)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG", pnginfo=info)
    return True


def shorten(label: str, max_px: float, draw, font) -> str:
    if draw.textlength(label, font=font) <= max_px:
        return label
    while label and draw.textlength(label + "…", font=font) > max_px:
        label = label[:-1]
    return label + "…"


# ---------------------------------------------------------------- the report folder

# A text chunk in every curve: what lets a later gan report rewrite it, and nothing else.
WRITTEN_BY = ("Software", "gan report")


def written_by_report(path: Path) -> bool:
    """Whether the file at ``path`` is a curve gan report drew (its PNG text chunk says so)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.format == "PNG" and img.info.get(WRITTEN_BY[0]) == WRITTEN_BY[1]
    except (OSError, ValueError):
        return False
