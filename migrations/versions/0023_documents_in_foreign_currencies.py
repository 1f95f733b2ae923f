"""Documents in foreign currencies: invoices and credit notes freeze their
exchange rate and carry their functional-currency figures (per VAT row, per
line and in total); payments freeze the rate of the day they were received
and their functional value; journal lines keep the document's currency and
amount beside the functional debit and credit; the realised exchange gain
and loss get their accounts (4900, 6900).

Existing documents and lines are in the functional currency: their rate is
1 and their functional figures are their own.

Revision ID: 0023
Revises: 0022
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

#: 1 in units of 10⁻¹⁰ (the exchange rate column's scale).
ONE = "10000000000"
RATED = ("invoices", "credit_notes")
TOTALS = (("functional_net_total", "net_total"), ("functional_vat_total", "vat_total"),
          ("functional_total", "total"))
VAT_TABLES = ("invoice_vat", "credit_note_vat")
LINE_TABLES = ("invoice_lines", "credit_note_lines")
NEW_ACCOUNTS = (("4900", "fx_gain", "Realised exchange gains", "revenue"),
                ("6900", "fx_loss", "Realised exchange losses", "expense"))


def _money(name: str) -> sa.Column:
    return sa.Column(name, o2c.db.types.Money(), nullable=False, server_default="0")


def upgrade() -> None:
    for t in RATED:
        op.add_column(t, sa.Column("exchange_rate", o2c.db.types.ExchangeRate(), nullable=False, server_default=ONE))
        for new, old in TOTALS:
            op.add_column(t, _money(new))
        op.execute(f"UPDATE {t} SET " + ", ".join(f"{new} = {old}" for new, old in TOTALS))
    for t in VAT_TABLES:
        op.add_column(t, _money("functional_net"))
        op.add_column(t, _money("functional_vat"))
        op.execute(f"UPDATE {t} SET functional_net = net, functional_vat = vat")
    for t in LINE_TABLES:
        op.add_column(t, _money("functional_net"))
        op.execute(f"UPDATE {t} SET functional_net = net")
    op.add_column("payments", sa.Column("exchange_rate", o2c.db.types.ExchangeRate(), nullable=False,
                                        server_default=ONE))
    op.add_column("payments", _money("functional_amount"))
    op.execute("UPDATE payments SET functional_amount = amount")
    op.add_column("journal_lines", sa.Column("currency", sa.String(length=3), nullable=False, server_default="EUR"))
    op.add_column("journal_lines", sa.Column("amount", o2c.db.types.CurrencyAmount(), nullable=False,
                                             server_default="0"))
    # Cents to ten-thousandths: the document amount of a functional line is its signed figure.
    op.execute("UPDATE journal_lines SET amount = (debit - credit) * 100")
    op.create_index("ix_journal_lines_currency_account", "journal_lines", ["currency", "account"])
    # Accounts that kept their postings through a downgrade are there already.
    for code, role, name, type_ in NEW_ACCOUNTS:
        op.execute(f"INSERT INTO accounts (code, role, name, type) SELECT '{code}', '{role}', '{name}', '{type_}' "
                   f"WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE code = '{code}')")
        op.execute(f"INSERT INTO account_roles (role, account, assigned_at) SELECT '{role}', '{code}', "
                   f"CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM account_roles WHERE account = '{code}')")


def downgrade() -> None:
    # Accounts with postings stay (the journal is never rewritten); the others go.
    roles = ", ".join(f"'{r}'" for _, r, _, _ in NEW_ACCOUNTS)
    unused = "SELECT code FROM accounts WHERE code NOT IN (SELECT DISTINCT account FROM journal_lines)"
    op.execute(f"DELETE FROM account_roles WHERE role IN ({roles}) AND account IN ({unused})")
    op.execute(f"DELETE FROM accounts WHERE role IN ({roles}) AND code IN ({unused})")
    op.drop_index("ix_journal_lines_currency_account", table_name="journal_lines")
    drops = {"journal_lines": ("currency", "amount"), "payments": ("exchange_rate", "functional_amount"),
             **{t: ("functional_net",) for t in LINE_TABLES},
             **{t: ("functional_net", "functional_vat") for t in VAT_TABLES},
             **{t: ("exchange_rate", *(new for new, _ in TOTALS)) for t in RATED}}
    for t, cols in drops.items():
        with op.batch_alter_table(t) as b:
            for c in cols:
                b.drop_column(c)
