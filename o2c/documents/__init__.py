"""Documents: invoices and credit notes as the customer and the tax office
read them. Context builders turn the books into a generic *document* (see
``o2c.documents.context``); templates in ``templates/invoices/`` turn a
document into HTML in the customer's language; ``o2c.documents.render`` (the
only WeasyPrint import) makes the PDF; ``o2c.documents.einvoice`` writes the
EN 16931 XML (Cross-Industry-Invoice for Factur-X, and UBL 2.1)."""
