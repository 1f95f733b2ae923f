"""The general ledger and what is read from it: posting, the chart of accounts, the hash
chain, the reconciliation, reports and exports."""
