"""Customers after the sale: coupons, product associations, customer
insights, cycle KPIs, win-back and satisfaction follow-up."""
