"""Invoice copies as PDF: a Jinja2 HTML template drawn by fpdf2, which is pure Python."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from handlers.common import TEMPLATES
from store.invoices import Supplier, format_money
from store.models import Invoice

INVOICE_TEMPLATE = "invoice.html.j2"
INVOICE_FONT = "DejaVu"
FONTS = TEMPLATES / "fonts"

# A document, not a Slack message: escape for HTML, which fpdf2's write_html parses.
documents = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def percent(rate: Decimal) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".")


def invoice_filename(invoice: Invoice) -> str:
    return f"{invoice.number}.pdf"


def render_invoice_html(invoice: Invoice, supplier: Supplier) -> str:
    return documents.get_template(INVOICE_TEMPLATE).render(
        invoice=invoice,
        supplier=supplier,
        issued_on=long_date(invoice.issued_on),
        vat_percent=percent(invoice.vat_rate),
        money=lambda amount: format_money(amount, invoice.currency),
    )


def render_invoice_pdf(invoice: Invoice, supplier: Supplier) -> bytes:
    """One invoice (with its account loaded) as the bytes of a PDF file."""
    # Imported here: fpdf2 brings Pillow and fontTools, about 50 MB that a replica keeps only once
    # someone asks it for an invoice copy.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    # PDF's built-in fonts cover Latin-1 only; customers are called "Łódź Taxis" too. DejaVu
    # Sans (templates/fonts, free licence) covers most scripts, and only the glyphs used are embedded.
    pdf.add_font(INVOICE_FONT, "", FONTS / "DejaVuSans.ttf")
    pdf.add_font(INVOICE_FONT, "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_title(f"Invoice {invoice.number}")
    pdf.set_author(supplier.name)
    pdf.add_page()
    pdf.set_font(INVOICE_FONT, size=10)
    pdf.write_html(render_invoice_html(invoice, supplier), font_family=INVOICE_FONT)
    return bytes(pdf.output())
