"""The only module that imports WeasyPrint."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

_local = threading.local()


def html_to_pdf(html: str, base_url: str | None = None, *, stylesheet: str | Path | None = None,
                pdf_variant: str | None = None) -> bytes:
    """Render an HTML document to PDF bytes.

    ``stylesheet``: a CSS file applied to the document. It is parsed once per
    thread, together with the font configuration its ``@font-face`` rules and
    font families need, and reused for every later document: parsing CSS and
    setting up fonts is a good part of rendering a one-page document.
    ``pdf_variant``: a WeasyPrint PDF variant such as ``"pdf/a-3b"``.
    """
    from weasyprint import HTML
    options: dict[str, Any] = {}
    if stylesheet is not None:
        css, font_config = _stylesheet(str(stylesheet))
        options.update(stylesheets=[css], font_config=font_config)
    if pdf_variant is not None:
        options["pdf_variant"] = pdf_variant
        if pdf_variant.startswith("pdf/a"):
            # The sRGB output intent PDF/A needs, from a profile read once:
            # left to itself, WeasyPrint opens the profile for every document
            # and leaves the file for the garbage collector to close.
            options.update(output_intent=_SRGB, color_profiles=dict(_srgb_profile()))
    return HTML(string=html, base_url=base_url).write_pdf(**options)


_SRGB = "o2c-srgb"


def _srgb_profile() -> dict[str, Any]:
    found: dict[str, Any] | None = _local.__dict__.get("srgb")
    if found is None:
        from importlib.resources import files

        from weasyprint.css import ColorProfile
        with (files("weasyprint.pdf") / "sRGB2014.icc").open("rb") as f:
            found = _local.srgb = {_SRGB: ColorProfile(f, "sRGB2014.icc", "relative-colorimetric",
                                                       (["r"], ["g"], ["b"]))}
    return found


def _stylesheet(path: str) -> tuple[Any, Any]:
    """The parsed stylesheet and its font configuration, one per thread (WeasyPrint
    objects are not shared between threads)."""
    cache: dict[str, tuple[Any, Any]] = _local.__dict__.setdefault("stylesheets", {})
    found = cache.get(path)
    if found is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration
        font_config = FontConfiguration()
        found = cache[path] = (CSS(filename=path, font_config=font_config), font_config)
    return found


def renderer_info() -> str:
    """Which WeasyPrint renders, and how it subsets fonts: with HarfBuzz
    (``libharfbuzz-subset0``) embedding fonts costs a fraction of what the
    fontTools fallback costs."""
    from weasyprint import __version__
    from weasyprint.pdf.fonts import harfbuzz_subset
    subsetter = "HarfBuzz" if harfbuzz_subset else "fontTools (install libharfbuzz-subset0: much faster)"
    return f"WeasyPrint {__version__}, font subsetting by {subsetter}"
