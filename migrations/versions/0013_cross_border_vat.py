"""Cross-border VAT: the tax treatment of every order, invoice and credit note.

- ``company`` gains ``country`` (IT for the existing row), ``oss_registered``
  and ``distance_sales_threshold`` (10 000.00 a year, EU-wide); its VAT id
  stays in ``tax_id``.
- ``customers`` gain ``customer_type`` (business when a VAT id is on file,
  else consumer) and the last VIES check recorded (``vat_id_check_status``,
  ``vat_id_checked_on``, ``vat_id_check_reference``).
- ``products`` gain ``tax_class`` (from the domestic rate: 0 → zero, the
  Italian reduced rates → reduced / super_reduced, else standard).
- ``tax_rates``: per country and tax class, with validity dates, seeded with
  the rates of the EU member states (``o2c.domain.vat_rates``).
- ``orders``, ``invoices``, ``credit_notes`` gain ``tax_treatment``,
  ``tax_country`` and ``buyer_vat_id`` (existing documents: domestic, IT);
  orders also ``ship_to_country`` (counts distance sales towards the threshold).
- Their lines gain ``vat_category`` (UNCL 5305, existing: S, or Z at 0 %);
  the VAT summaries (``invoice_vat``, ``credit_note_vat``) gain ``category``
  in their key, ``exemption_reason_code`` and ``exemption_reason``.
- Posting roles: ``revenue_intra_eu`` (4060), ``revenue_export`` (4070) and
  one OSS VAT payable per member state, ``vat_oss_<CC>`` (2410–2436).

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types
from o2c.domain.vat_rates import EU_MEMBER_STATES, seed_rows

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

DOC_TABLES = ("orders", "invoices", "credit_notes")
LINE_TABLES = ("order_lines", "invoice_lines", "credit_note_lines")
VAT_TABLES = (("invoice_vat", "invoice_id"), ("credit_note_vat", "credit_note_id"))
NEW_ACCOUNTS = [("4060", "revenue_intra_eu", "Revenue, intra-EU supplies", "revenue"),
                ("4070", "revenue_export", "Revenue, exports", "revenue")] + [
    (str(2410 + i), f"vat_oss_{cc}", f"OSS VAT payable {cc}", "liability") for i, cc in enumerate(EU_MEMBER_STATES)]


def upgrade() -> None:
    with op.batch_alter_table("company") as b:
        b.add_column(sa.Column("country", sa.String(length=2), server_default="IT", nullable=False))
        b.add_column(sa.Column("oss_registered", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        b.add_column(sa.Column("distance_sales_threshold", o2c.db.types.Money(), server_default="1000000",
                               nullable=False))
    with op.batch_alter_table("customers") as b:
        b.add_column(sa.Column("customer_type", sa.String(length=16), server_default="consumer", nullable=False))
        b.add_column(sa.Column("vat_id_check_status", sa.String(length=16), server_default="unchecked",
                               nullable=False))
        b.add_column(sa.Column("vat_id_checked_on", sa.Date(), nullable=True))
        b.add_column(sa.Column("vat_id_check_reference", sa.String(length=64), nullable=True))
    op.execute("UPDATE customers SET customer_type = 'business' WHERE tax_id <> ''")
    with op.batch_alter_table("products") as b:
        b.add_column(sa.Column("tax_class", sa.String(length=16), server_default="standard", nullable=False))
    # Rates are stored scaled by 10 000 (o2c.db.types.Rate).
    op.execute("UPDATE products SET tax_class = CASE vat_rate WHEN 0 THEN 'zero' WHEN 1000 THEN 'reduced' "
               "WHEN 500 THEN 'reduced' WHEN 400 THEN 'super_reduced' ELSE 'standard' END")

    for t in DOC_TABLES:
        with op.batch_alter_table(t) as b:
            b.add_column(sa.Column("tax_treatment", sa.String(length=20), server_default="domestic", nullable=False))
            b.add_column(sa.Column("tax_country", sa.String(length=2), server_default="IT", nullable=False))
            b.add_column(sa.Column("buyer_vat_id", sa.String(length=64), server_default="", nullable=False))
            if t == "orders":
                b.add_column(sa.Column("ship_to_country", sa.String(length=2), server_default="", nullable=False))
    for t in LINE_TABLES:
        with op.batch_alter_table(t) as b:
            b.add_column(sa.Column("vat_category", sa.String(length=2), server_default="S", nullable=False))
        op.execute(f"UPDATE {t} SET vat_category = 'Z' WHERE vat_rate = 0")
    for t, key in VAT_TABLES:
        with op.batch_alter_table(t) as b:
            b.add_column(sa.Column("category", sa.String(length=2), server_default="S", nullable=False))
            b.add_column(sa.Column("exemption_reason_code", sa.String(length=32), nullable=True))
            b.add_column(sa.Column("exemption_reason", sa.String(length=255), nullable=True))
        op.execute(f"UPDATE {t} SET category = 'Z' WHERE rate = 0")
        with op.batch_alter_table(t) as b:
            b.drop_constraint(f"pk_{t}", type_="primary")
            b.create_primary_key(f"pk_{t}", [key, "category", "rate"])

    op.create_table(
        "tax_rates",
        sa.Column("id", BigId, nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_class", sa.String(length=16), nullable=False),
        sa.Column("rate", o2c.db.types.Rate(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rates")),
        sa.UniqueConstraint("country", "tax_class", "valid_from", name=op.f("uq_tax_rates_country_tax_class_valid_from")),
    )
    rates = sa.table("tax_rates", sa.column("country", sa.String), sa.column("tax_class", sa.String),
                     sa.column("rate", o2c.db.types.Rate()), sa.column("valid_from", sa.Date),
                     sa.column("valid_to", sa.Date))
    op.bulk_insert(rates, seed_rows())

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
    op.drop_table("tax_rates")
    conn = op.get_bind()
    for t, key in VAT_TABLES:
        # Rows of one document at one rate (Z and E at 0 %) become one again.
        doubled = conn.execute(sa.text(
            f"SELECT {key}, rate, SUM(net), SUM(vat) FROM {t} GROUP BY {key}, rate HAVING COUNT(*) > 1")).all()
        for doc_id, rate, net, vat in doubled:
            conn.execute(sa.text(f"DELETE FROM {t} WHERE {key} = :d AND rate = :r"), {"d": doc_id, "r": rate})
            conn.execute(sa.text(f"INSERT INTO {t} ({key}, category, rate, net, vat) VALUES (:d, 'Z', :r, :n, :v)"),
                         {"d": doc_id, "r": rate, "n": net, "v": vat})
        with op.batch_alter_table(t) as b:
            b.drop_constraint(f"pk_{t}", type_="primary")
            b.create_primary_key(f"pk_{t}", [key, "rate"])
        with op.batch_alter_table(t) as b:
            b.drop_column("exemption_reason")
            b.drop_column("exemption_reason_code")
            b.drop_column("category")
    for t in LINE_TABLES:
        with op.batch_alter_table(t) as b:
            b.drop_column("vat_category")
    for t in DOC_TABLES:
        with op.batch_alter_table(t) as b:
            if t == "orders":
                b.drop_column("ship_to_country")
            b.drop_column("buyer_vat_id")
            b.drop_column("tax_country")
            b.drop_column("tax_treatment")
    with op.batch_alter_table("products") as b:
        b.drop_column("tax_class")
    with op.batch_alter_table("customers") as b:
        b.drop_column("vat_id_check_reference")
        b.drop_column("vat_id_checked_on")
        b.drop_column("vat_id_check_status")
        b.drop_column("customer_type")
    with op.batch_alter_table("company") as b:
        b.drop_column("distance_sales_threshold")
        b.drop_column("oss_registered")
        b.drop_column("country")
