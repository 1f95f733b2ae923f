"""Selling: orders from draft to confirmation, backorders, the catalogue of products,
and the look-ups the new-order form uses."""
