"""Invoices and their documents: issuing invoices, rendering and storing PDFs and e-invoices."""
