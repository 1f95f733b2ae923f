"""Chart of accounts and posting rules: pure functions from business facts to
balanced journal entries."""
