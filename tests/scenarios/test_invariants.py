"""A busy month at the shop, replayed deterministically: thirty orders from five
customers over six SKUs at 22 %, 10 % and 4 % VAT with awkward prices and
discounts; some refused for stock, some cancelled as drafts or once confirmed,
most shipped in parts; partial payments, over-payments, payments spanning
several invoices and payments with explicit allocations.

The test keeps its own model of what should have happened — written from
SPEC.md, not from the code — and at the end checks the service's
reconciliation AND recomputes every book from the API: invoices from their
lines, receivables from invoices and allocations, stock from receipts and
shipments, and the invoice series for gaps."""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.conftest import Client, customer, product, reconciliation_ok

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SEED = 20260412

CUSTOMERS = ["C-ROSSI", "C-BIANCHI", "C-VERDI", "C-NERI", "C-GALLI"]
# sku: (price, VAT rate, [(received quantity, unit cost), ...])
PRODUCTS = {
    "RETRO-CLOCK": ("49.90", "0.22", [(10, "20.00"), (6, "21.37")]),
    "TEE-M": ("19.99", "0.22", [(25, "7.77")]),
    "MUG-01": ("0.99", "0.10", [(40, "0.37")]),
    "COFFEE-1KG": ("12.35", "0.10", [(12, "6.66"), (8, "6.10")]),
    "BOOK-IT": ("3.33", "0.04", [(30, "1.11")]),
    "ATLAS-XL": ("87.45", "0.04", [(4, "40.01")]),
}


def money(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def net_of(qty: int, price: Decimal, discount: Decimal) -> Decimal:
    """SPEC.md §3: round(quantity × unit price × (1 − discount), 2), half-up."""
    return money(qty * price * (1 - discount))


def totals_of(lines: list[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal, Decimal, dict[Decimal, tuple[Decimal, Decimal]]]:
    """(net, VAT, gross, {rate: (net, VAT)}) with VAT per rate on the sum of nets (BR-CO-17)."""
    by_rate: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for net, rate in lines:
        by_rate[rate] += net
    vat = {rate: (n, money(n * rate)) for rate, n in by_rate.items()}
    net_total = sum((n for n, _ in vat.values()), ZERO)
    vat_total = sum((v for _, v in vat.values()), ZERO)
    return net_total, vat_total, net_total + vat_total, vat


@dataclass
class Line:
    sku: str
    qty: int
    price: Decimal
    discount: Decimal
    rate: Decimal
    shipped: int = 0


@dataclass
class Order:
    id: int
    customer: str
    lines: list[Line]
    status: str
    invoices: list[int] = field(default_factory=list)


@dataclass
class Invoice:
    id: int
    order_id: int
    customer: str
    total: Decimal
    paid: Decimal = ZERO

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid


class Shop:
    """The model: what the books must say, kept by hand."""

    def __init__(self, api: Client, rng: random.Random):
        self.api = api
        self.rng = rng
        self.customer_ids: dict[str, int] = {}
        self.on_hand: dict[str, int] = {}
        self.reserved: dict[str, int] = defaultdict(int)
        self.received_value = ZERO
        self.shipped_qty: dict[str, int] = defaultdict(int)
        self.orders: dict[int, Order] = {}
        self.invoices: dict[int, Invoice] = {}
        self.payments: list[dict[str, Any]] = []
        self.refused = 0
        self.bank = ZERO

    # -- master data ----------------------------------------------------------------
    def open(self) -> None:
        for i, code in enumerate(CUSTOMERS):
            self.customer_ids[code] = customer(self.api, code, name=f"{code.title()} SpA",
                                               payment_terms_days=[0, 14, 30, 60, 90][i])["id"]
        for sku, (price, rate, receipts) in PRODUCTS.items():
            product(self.api, sku, price, rate)
            self.on_hand[sku] = 0
            for qty, cost in receipts:
                r = self.api.ok("post", "/api/v1/stock/receipts", {"sku": sku, "quantity": qty, "unit_cost": cost},
                                status=201)
                assert r["value"] == str(money(qty * Decimal(cost)))
                self.on_hand[sku] += qty
                self.received_value += money(qty * Decimal(cost))

    def available(self, sku: str) -> int:
        return self.on_hand[sku] - self.reserved[sku]

    # -- orders ----------------------------------------------------------------------
    def place(self, n: int) -> None:
        rng = self.rng
        code = rng.choice(CUSTOMERS)
        skus = rng.sample(sorted(PRODUCTS), rng.randint(1, 3))
        lines = []
        for sku in skus:
            price, rate, _ = PRODUCTS[sku]
            discount = Decimal("0.15") if rng.random() < 0.3 else ZERO
            if rng.random() < 0.1:
                price = "17.77"  # a negotiated price overrides the list price
            lines.append(Line(sku, rng.randint(1, 4), Decimal(price), discount, Decimal(rate)))
        confirm = rng.random() < 0.8
        body: dict[str, Any] = {
            "external_ref": f"shop-{n:04d}", "customer": {"code": code}, "currency": "EUR", "confirm": confirm,
            "lines": [{"sku": l.sku, "quantity": l.qty, "unit_price": str(l.price),
                       **({"discount": str(l.discount)} if l.discount else {})} for l in lines]}
        fits = all(l.qty <= self.available(l.sku) for l in lines)
        r = self.api.post("/api/v1/orders", body)
        if confirm and not fits:
            assert r.status_code == 409 and r.get_json()["error"]["code"] == "out_of_stock", r.get_json()
            short = {d["sku"] for d in r.get_json()["error"]["details"]["lines"]}
            assert short == {l.sku for l in lines if l.qty > self.available(l.sku)}
            self.refused += 1
            return
        assert r.status_code == 201, r.get_json()
        got = r.get_json()
        net, vat, gross, _ = totals_of([(net_of(l.qty, l.price, l.discount), l.rate) for l in lines])
        assert (got["net_total"], got["vat_total"], got["total"]) == (str(net), str(vat), str(gross))
        o = Order(got["id"], code, lines, got["status"])
        assert o.status == ("confirmed" if confirm else "draft")
        self.orders[o.id] = o
        if confirm:
            for l in lines:
                self.reserved[l.sku] += l.qty

    def cancel(self, o: Order) -> None:
        got = self.api.ok("post", f"/api/v1/orders/{o.id}/cancel")
        assert got["status"] == "cancelled"
        if o.status == "confirmed":
            for l in o.lines:
                self.reserved[l.sku] -= l.qty - l.shipped
        o.status = "cancelled"

    def confirm_draft(self, o: Order) -> None:
        fits = all(l.qty <= self.available(l.sku) for l in o.lines)
        r = self.api.post(f"/api/v1/orders/{o.id}/confirm")
        if not fits:
            assert (r.status_code, r.get_json()["error"]["code"]) == (409, "out_of_stock")
            return
        assert r.status_code == 200, r.get_json()
        o.status = "confirmed"
        for l in o.lines:
            self.reserved[l.sku] += l.qty

    def ship_part(self, o: Order, everything: bool) -> None:
        """Pack some or all of what is open, ship it, check the invoice it issued."""
        todo = []
        for l in o.lines:
            left = l.qty - l.shipped
            if left:
                q = left if everything else self.rng.randint(0, left)
                if q:
                    todo.append((l, q))
        if not todo:
            return
        sh = self.api.ok("post", f"/api/v1/orders/{o.id}/shipments",
                         {"lines": [{"sku": l.sku, "quantity": q} for l, q in todo]}, status=201)
        sh = self.api.ok("post", f"/api/v1/shipments/{sh['id']}/ship",
                         {"carrier": "BRT", "tracking_number": f"BRT{sh['id']:05d}"})
        inv = self.api.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
        net, vat, gross, by_rate = totals_of([(net_of(q, l.price, l.discount), l.rate) for l, q in todo])
        assert (inv["net_total"], inv["vat_total"], inv["total"]) == (str(net), str(vat), str(gross)), inv
        assert sorted((Decimal(v["rate"]), v["net"], v["vat"]) for v in inv["vat"]) == \
            sorted((rate, str(n), str(v)) for rate, (n, v) in by_rate.items())
        assert sorted((x["sku"], x["quantity"]) for x in inv["lines"]) == sorted((l.sku, q) for l, q in todo)
        for l, q in todo:
            l.shipped += q
            self.on_hand[l.sku] -= q
            self.reserved[l.sku] -= q
            self.shipped_qty[l.sku] += q
        self.invoices[inv["id"]] = Invoice(inv["id"], o.id, o.customer, gross)
        o.invoices.append(inv["id"])

    # -- payments ----------------------------------------------------------------------
    def open_invoices(self, code: str) -> list[Invoice]:
        return sorted((i for i in self.invoices.values() if i.customer == code and i.balance > 0), key=lambda i: i.id)

    def pay(self, code: str, amount: Decimal, explicit: list[tuple[Invoice, Decimal]] | None = None) -> None:
        n = len(self.payments) + 1
        body: dict[str, Any] = {"customer_id": self.customer_ids[code], "amount": str(amount), "currency": "EUR",
                                "received_on": self.today, "method": "bank_transfer", "reference": f"BANK-{n:05d}"}
        if explicit is not None:
            body["allocations"] = [{"invoice_id": i.id, "amount": str(a)} for i, a in explicit]
            plan = explicit
        else:
            plan, left = [], amount  # SPEC: oldest open invoices first (all issued today: by number)
            for inv in self.open_invoices(code):
                take = min(inv.balance, left)
                if take > 0:
                    plan.append((inv, take))
                    left -= take
        got = self.api.ok("post", "/api/v1/payments", body, status=201)
        assert got["allocations"] == [{"invoice_id": i.id, "amount": str(a)} for i, a in plan], (got, plan)
        applied = sum((a for _, a in plan), ZERO)
        assert got["unapplied"] == str(amount - applied)
        for inv, a in plan:
            inv.paid += a
        self.bank += amount
        self.payments.append({"id": got["id"], "amount": amount, "applied": applied})

    def pay_someone(self) -> None:
        rng = self.rng
        code = rng.choice(CUSTOMERS)
        owed = sum((i.balance for i in self.open_invoices(code)), ZERO)
        kind = rng.choice(["partial", "partial", "partial", "exact", "over", "explicit", "explicit"])
        if kind == "explicit" and len(self.open_invoices(code)) >= 2:
            a, b = rng.sample(self.open_invoices(code), 2)
            part = money(a.balance * Decimal(rng.randint(10, 90)) / 100)
            self.pay(code, part + b.balance + Decimal("5.00"), [(a, part), (b, b.balance)])
        elif kind == "partial" and owed > Decimal("1.00"):
            self.pay(code, money(owed * Decimal(rng.randint(20, 80)) / 100))
        elif kind == "exact" and owed > 0:
            self.pay(code, owed)
        else:
            self.pay(code, owed + Decimal(rng.choice(["0.01", "10.00", "33.33"])))


def all_items(api: Client, path: str) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        page = api.ok("get", f"{path}{sep}limit=100" + (f"&cursor={cursor}" if cursor else ""))
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_a_busy_month_keeps_the_three_books_in_step(admin):  # type: ignore[no-untyped-def]
    rng = random.Random(SEED)
    shop = Shop(admin, rng)
    shop.open()
    from o2c.services.platform import clock
    shop.today = clock.now().date().isoformat()  # type: ignore[attr-defined]

    # Week 1: twenty orders; a few drafts, a few refused for stock.
    for n in range(1, 21):
        shop.place(n)
    orders = list(shop.orders.values())
    drafts = [o for o in orders if o.status == "draft"]
    for o in drafts[: len(drafts) // 2]:
        shop.cancel(o)  # a draft cancelled
    for o in drafts[len(drafts) // 2:]:
        shop.confirm_draft(o)
    confirmed = [o for o in orders if o.status == "confirmed"]
    for o in confirmed[:2]:
        shop.cancel(o)  # confirmed, then cancelled: its stock comes back
    for o in confirmed[2:]:
        shop.ship_part(o, everything=rng.random() < 0.4)
    reconciliation_ok(admin)

    # Money comes in: partial, exact, over-payments, explicit allocations.
    for _ in range(8):
        shop.pay_someone()
    reconciliation_ok(admin)

    # Week 2: ten more orders, the rest of week 1 ships, more payments.
    for n in range(21, 31):
        shop.place(n)
    for o in list(shop.orders.values()):
        if o.status == "confirmed":
            shop.ship_part(o, everything=rng.random() < 0.7)
    for _ in range(8):
        shop.pay_someone()
    shop.pay("C-ROSSI", Decimal("0.99"))  # a tiny payment, whatever Rossi owes
    # The biggest debtor pays a third of what it owes: the oldest invoices are
    # settled first and one is left part-paid.
    debtor = max(CUSTOMERS, key=lambda c: sum((i.balance for i in shop.open_invoices(c)), ZERO))
    owed = sum((i.balance for i in shop.open_invoices(debtor)), ZERO)
    assert owed > Decimal("50.00")
    shop.pay(debtor, money(owed / 3))

    # The story must have exercised what it claims to.
    lines = [l for o in shop.orders.values() for l in o.lines]
    assert shop.refused >= 1 and len(shop.orders) + shop.refused == 30
    assert any(o.status == "cancelled" and all(l.shipped == 0 for l in o.lines) for o in shop.orders.values())
    assert any(0 < l.shipped < l.qty for l in lines), "no partial shipment"
    assert any(l.discount for l in lines) and {l.rate for l in lines} == {Decimal(r) for r in ("0.22", "0.10", "0.04")}
    assert any(len(o.invoices) > 1 for o in shop.orders.values())
    assert any(p["applied"] < p["amount"] for p in shop.payments), "no over-payment"
    assert any(0 < i.paid < i.total for i in shop.invoices.values()), "no partially paid invoice"
    assert len(shop.invoices) >= 20

    # 1. The service's own reconciliation: every difference zero.
    reconciliation_ok(admin)

    # 2. Invoices: as the model says, numbered 1..N without gaps.
    invoices = all_items(admin, "/api/v1/invoices")
    assert len(invoices) == len(shop.invoices)
    year = invoices[0]["issue_date"][:4]
    assert sorted(i["number"] for i in invoices) == [f"INV-{year}-{n:06d}" for n in range(1, len(invoices) + 1)]
    for inv in invoices:
        mine = shop.invoices[inv["id"]]
        assert (inv["total"], inv["amount_paid"], inv["balance_due"]) == \
            (str(mine.total), str(mine.paid), str(mine.balance)), inv
        assert inv["status"] == ("paid" if mine.balance == 0 else "partially_paid" if mine.paid else "open")
        net, vat, gross, _ = totals_of([(net_of(l["quantity"], Decimal(l["unit_price"]), Decimal(l["discount"])),
                                         Decimal(l["vat_rate"])) for l in inv["lines"]])
        assert (inv["net_total"], inv["vat_total"], inv["total"]) == (str(net), str(vat), str(gross))

    # 3. The general ledger against documents recomputed from the API.
    tb = admin.ok("get", "/api/v1/ledger/trial-balance")
    assert tb["total_debit"] == tb["total_credit"]
    gl = {a["code"]: Decimal(a["balance"]) for a in tb["accounts"]}
    allocated = sum((p["applied"] for p in shop.payments), ZERO)
    assert sum((Decimal(i["amount_paid"]) for i in invoices), ZERO) == allocated
    assert gl["1100"] == sum((Decimal(i["total"]) for i in invoices), ZERO) - allocated
    assert gl["4000"] == -sum((Decimal(i["net_total"]) for i in invoices), ZERO)
    assert gl["2200"] == -sum((Decimal(i["vat_total"]) for i in invoices), ZERO)
    assert gl["1000"] == shop.bank
    assert gl["2300"] == -sum((p["amount"] - p["applied"] for p in shop.payments), ZERO)
    for p in shop.payments:
        got = admin.ok("get", f"/api/v1/payments/{p['id']}")
        assert Decimal(got["unapplied"]) == p["amount"] - p["applied"]
        assert sum((Decimal(a["amount"]) for a in got["allocations"]), ZERO) == p["applied"]
    # What came in at cost either still sits in inventory or went out as COGS.
    assert gl["1200"] + gl["5000"] == shop.received_value
    assert gl["2100"] == -shop.received_value

    # 4. Stock: on hand = received − shipped; reserved = what confirmed orders still wait for.
    stock = {s["sku"]: s for s in all_items(admin, "/api/v1/stock")}
    assert gl["1200"] == sum((Decimal(s["value"]) for s in stock.values()), ZERO)
    for sku, (_, _, receipts) in PRODUCTS.items():
        received = sum(q for q, _ in receipts)
        assert stock[sku]["on_hand"] == received - shop.shipped_qty[sku] == shop.on_hand[sku], sku
        waiting = sum(l.qty - l.shipped for o in shop.orders.values() if o.status == "confirmed"
                      for l in o.lines if l.sku == sku)
        assert stock[sku]["reserved"] == waiting == shop.reserved[sku], sku
        assert 0 <= stock[sku]["reserved"] <= stock[sku]["on_hand"]

    # 5. Orders: statuses and balances follow from the facts.
    seen = Counter()
    for o in shop.orders.values():
        got = admin.ok("get", f"/api/v1/orders/{o.id}")
        invoiced = sum((shop.invoices[i].total for i in o.invoices), ZERO)
        paid = sum((shop.invoices[i].paid for i in o.invoices), ZERO)
        all_shipped = all(l.shipped == l.qty for l in o.lines)
        assert [l["shipped_quantity"] for l in got["lines"]] == [l.shipped for l in o.lines]
        assert [l["invoiced_quantity"] for l in got["lines"]] == [l.shipped for l in o.lines]
        assert sorted(got["invoice_ids"]) == sorted(o.invoices)
        assert Decimal(got["amount_paid"]) == paid
        if o.status == "confirmed" and all_shipped and paid == invoiced:
            expected = "completed"
        else:
            expected = o.status
        assert got["status"] == expected, (got, o)
        seen[expected] += 1
        assert got["payment_status"] == (
            "unpaid" if paid == 0 else "paid" if all_shipped and paid >= invoiced else "partially_paid"), got
        shipped_any = any(l.shipped for l in o.lines)
        assert got["fulfillment_status"] == (
            "shipped" if shipped_any and all_shipped else "partially_shipped" if shipped_any else "unfulfilled"), got
        due = (invoiced if all_shipped or o.status == "cancelled" else Decimal(got["total"])) - paid
        assert Decimal(got["balance_due"]) == max(due, ZERO), got
    assert seen["completed"] >= 3 and seen["confirmed"] >= 3 and seen["cancelled"] >= 3 and seen["draft"] >= 1, seen
