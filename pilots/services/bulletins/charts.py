"""The bulletin's charts as PNG images, with Chinese text in a CJK font found through fontconfig.

A machine without a CJK font would draw empty boxes for every Chinese character, so a missing font is an
error that names the package to install (Debian: ``fonts-noto-cjk``), never a silent fallback.
"""

from __future__ import annotations

import io
import shutil
# subprocess: fc-list with a fixed argument list, never a shell
import subprocess  # nosec B404
from decimal import Decimal
from functools import lru_cache

# The worker has no display: the Agg backend renders to memory.
import matplotlib

matplotlib.use("Agg")
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PREFERRED_FAMILIES = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei")


class ChartFontMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def cjk_font_file() -> str:
    """The file of a font that covers simplified Chinese, as fontconfig lists it (Noto Sans CJK SC first)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        raise ChartFontMissing("fontconfig (fc-list) is not installed: install fontconfig and fonts-noto-cjk.")
    listed = subprocess.run([fc_list, ":lang=zh-cn", "family", "file"], capture_output=True, text=True,  # nosec B603
                            timeout=30, check=False).stdout
    fonts: dict[str, str] = {}
    for line in listed.splitlines():
        path, _sep, families = line.partition(": ")
        for family in families.split(","):
            fonts.setdefault(family.strip(), path.strip())
    for family in PREFERRED_FAMILIES:
        if family in fonts:
            return fonts[family]
    if fonts:
        return next(iter(fonts.values()))
    raise ChartFontMissing("No font with Chinese characters is installed (fontconfig lists none for zh-cn): "
                           "install fonts-noto-cjk.")


def _font() -> font_manager.FontProperties:
    return font_manager.FontProperties(fname=cjk_font_file())


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    return buffer.getvalue()


def _number(value: str | None) -> float:
    return float(Decimal(value)) if value is not None else 0.0


def completion_chart(prefectures: list[dict]) -> bytes:
    """Completion and plan by prefecture, highest completion first."""
    rows = sorted(prefectures, key=lambda r: (r["completion"] is None, -_number(r["completion"]), r["code"]))
    font = _font()
    figure = Figure(figsize=(7.5, 3.6))
    axes = figure.subplots()
    positions = range(len(rows))
    axes.bar(positions, [_number(r["completion"]) for r in rows], color="#2f5597", label="完成率")
    planned = [(i, _number(r["planned"])) for i, r in enumerate(rows) if r["planned"] is not None]
    if planned:
        axes.scatter([i for i, _v in planned], [v for _i, v in planned], marker="_", s=300, color="#c00000",
                     label="计划进度", zorder=3)
    axes.set_xticks(list(positions), [r["name"] for r in rows], fontproperties=font, rotation=60, ha="right",
                    fontsize=8)
    axes.set_ylim(0, 100)
    axes.set_ylabel("完成率(%)", fontproperties=font)
    axes.set_title("各市(州)试点平均完成率", fontproperties=font)
    axes.legend(prop=font, loc="upper right", fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def reporting_chart(prefectures: list[dict]) -> bytes:
    """The on-time reporting rate by prefecture, lowest first (who needs to catch up)."""
    rows = sorted((r for r in prefectures if r["expected"]), key=lambda r: (_number(r["on_time_rate"]), r["code"]))
    font = _font()
    figure = Figure(figsize=(7.5, 3.6))
    axes = figure.subplots()
    positions = range(len(rows))
    axes.bar(positions, [_number(r["on_time_rate"]) for r in rows], color="#548235")
    axes.set_xticks(list(positions), [r["name"] for r in rows], fontproperties=font, rotation=60, ha="right",
                    fontsize=8)
    axes.set_ylim(0, 100)
    axes.set_ylabel("按时报送率(%)", fontproperties=font)
    axes.set_title("各市(州)按时报送率", fontproperties=font)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)
