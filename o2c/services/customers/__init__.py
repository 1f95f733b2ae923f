"""Who buys: customer records, and which channels may use them."""
