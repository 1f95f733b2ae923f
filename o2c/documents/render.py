"""The only module that imports WeasyPrint."""
from __future__ import annotations


def html_to_pdf(html: str, base_url: str | None = None) -> bytes:
    """Render an HTML document to PDF bytes."""
    from weasyprint import HTML
    return HTML(string=html, base_url=base_url).write_pdf()
