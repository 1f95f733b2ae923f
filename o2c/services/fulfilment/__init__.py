"""Goods out and back: stock, packing and shipping, returns."""
