"""Customers after the sale: coupons, product associations, satisfaction
feedback and follow-up tasks; orders gain the coupon they carry and the date
delivery was promised for; customers may opt out of satisfaction messages.

Revision ID: 0019
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("percent_off", sa.Integer(), nullable=True),
        sa.Column("amount_off", sa.BigInteger(), nullable=True),
        sa.Column("min_order_net", sa.BigInteger(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("customer_id", BigId, nullable=True),
        sa.Column("max_redemptions", sa.Integer(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("redemptions >= 0 AND redemptions <= max_redemptions",
                           name=op.f("ck_coupons_redemptions_within_max")),
        sa.CheckConstraint("(percent_off IS NULL) <> (amount_off IS NULL)",
                           name=op.f("ck_coupons_one_kind_of_discount")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_coupons_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
        sa.UniqueConstraint("code", name=op.f("uq_coupons_code")),
    )
    op.create_index(op.f("ix_coupons_customer_id"), "coupons", ["customer_id"])
    op.create_table(
        "association_runs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_as_of", sa.Date(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("rules", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_association_runs")),
    )
    op.create_table(
        "product_associations",
        sa.Column("x_product_id", BigId, nullable=False),
        sa.Column("y_product_id", BigId, nullable=False),
        sa.Column("pair_orders", sa.BigInteger(), nullable=False),
        sa.Column("x_orders", sa.BigInteger(), nullable=False),
        sa.Column("y_orders", sa.BigInteger(), nullable=False),
        sa.Column("all_orders", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_as_of", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["x_product_id"], ["products.id"],
                                name=op.f("fk_product_associations_x_product_id_products")),
        sa.ForeignKeyConstraint(["y_product_id"], ["products.id"],
                                name=op.f("fk_product_associations_y_product_id_products")),
        sa.PrimaryKeyConstraint("x_product_id", "y_product_id", name=op.f("pk_product_associations")),
    )
    op.create_index("ix_product_associations_x_pair", "product_associations", ["x_product_id", "pair_orders"])
    op.create_table(
        "feedback",
        sa.Column("id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("shipment_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("score IS NULL OR (score BETWEEN 1 AND 5)", name=op.f("ck_feedback_score_1_to_5")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_feedback_customer_id_customers")),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"], name=op.f("fk_feedback_shipment_id_shipments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("shipment_id", name=op.f("uq_feedback_shipment_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feedback_token_hash")),
    )
    op.create_index(op.f("ix_feedback_customer_id"), "feedback", ["customer_id"])
    op.create_table(
        "follow_up_tasks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("feedback_id", BigId, nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_follow_up_tasks_customer_id_customers")),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"], name=op.f("fk_follow_up_tasks_feedback_id_feedback")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up_tasks")),
        sa.UniqueConstraint("feedback_id", name=op.f("uq_follow_up_tasks_feedback_id")),
    )
    op.create_index(op.f("ix_follow_up_tasks_customer_id"), "follow_up_tasks", ["customer_id"])
    op.create_index("ix_follow_up_tasks_status_id", "follow_up_tasks", ["status", "id"])
    op.create_table(
        "customer_rfm",
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("last_order_on", sa.Date(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("monetary", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_customer_rfm_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_rfm")),
    )
    op.create_index("ix_customer_rfm_last_order_on", "customer_rfm", ["last_order_on"])
    op.create_index("ix_customer_rfm_orders", "customer_rfm", ["orders"])
    op.create_index("ix_customer_rfm_monetary", "customer_rfm", ["monetary"])
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("coupon_id", BigId, nullable=True))
        batch.add_column(sa.Column("promised_date", sa.Date(), nullable=True))
        batch.create_foreign_key(op.f("fk_orders_coupon_id_coupons"), "coupons", ["coupon_id"], ["id"])
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("followup_opt_out", sa.Boolean(), server_default=sa.text("false"),
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("followup_opt_out")
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("fk_orders_coupon_id_coupons"), type_="foreignkey")
        batch.drop_column("promised_date")
        batch.drop_column("coupon_id")
    op.drop_table("customer_rfm")
    op.drop_index("ix_follow_up_tasks_status_id", table_name="follow_up_tasks")
    op.drop_index(op.f("ix_follow_up_tasks_customer_id"), table_name="follow_up_tasks")
    op.drop_table("follow_up_tasks")
    op.drop_index(op.f("ix_feedback_customer_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_product_associations_x_pair", table_name="product_associations")
    op.drop_table("product_associations")
    op.drop_table("association_runs")
    op.drop_index(op.f("ix_coupons_customer_id"), table_name="coupons")
    op.drop_table("coupons")
