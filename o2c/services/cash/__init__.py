"""Money in: payments and their allocation, corrections of them, dunning."""
