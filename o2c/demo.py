"""A small, realistic data set to try o2c with: ``o2c demo``.

Everything goes in through the services, one business event per
transaction, exactly as the API would do it, so the three books stay in
step: customers in Italy, Poland, Russia and Germany, a dozen products at the
Italian VAT rates, goods received, and orders in every state (draft,
confirmed, packed, partially shipped, invoiced, partially paid, paid with an
overpayment left as customer credit, cancelled, paid and then partly returned
for a refund with its credit note). Webshop orders come in
through the ``demo-shop`` API key's channel, back-office orders through the
``web`` channel.

The clock is moved back while loading, so the story spreads over the last
two months and some invoices are overdue. The random choices use a fixed
seed: the same ``orders`` count gives the same data (relative to today).

Demo data is loaded only into a database without customers, products or
orders; on any other database ``load_demo`` loads nothing and only creates a
fresh set of API keys (``demo-admin-2`` and so on), so running it again is
harmless.
"""
from __future__ import annotations

import datetime as dt
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from o2c.config import Config
from o2c.db import models as m
from o2c.demo_bank import load_statements
from o2c.domain.access import Principal
from o2c.domain.money import document_totals, line_net, round_money
from o2c.schemas import api as s
from o2c.services.billing import invoicing
from o2c.services.books import fx, revaluation
from o2c.services.books.reconciliation import reconcile
from o2c.services.cash import dunning, payments
from o2c.services.crm import associations, coupons, feedback, insights, winback
from o2c.services.customers import records
from o2c.services.fulfilment import returns, shipping, stock
from o2c.services.platform import apikeys, clock, company
from o2c.services.platform.uow import Tx, unit_of_work
from o2c.services.sales import catalog, orders, quote_documents, quotes

SEED = 20260315

KEYS = (("demo-admin", "admin"), ("demo-shop", "webshop"), ("demo-clerk", "clerk"),
        ("demo-accountant", "accountant"))

# Back-office people: web-form orders belong to the ``web`` channel.
CLERK = Principal("user", 1, "marta.galli", "clerk")
ACCOUNTANT = Principal("user", 2, "paolo.ferri", "accountant")
#: The administrator who enables the currencies and records their rates.
ADMINISTRATOR = Principal("user", 3, "sara.bianchi", "admin")
DEMO_ACTOR = "cli:demo"
ADMIN_ACTOR = "user:admin"
COMPANY_VAT_ID = "IT09876540015"


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    name: str
    price: str
    vat: str
    cost: str                 # unit cost of the first goods receipt
    restock_cost: str | None  # a later receipt at another cost moves the average
    unit: str = "pcs"
    active: bool = True
    tax_class: str = ""       # by default from the Italian rate (TAX_CLASS_OF)


#: The tax class of each Italian rate: abroad, a product takes its class's rate.
TAX_CLASS_OF = {"0.22": "standard", "0.10": "reduced", "0.05": "reduced", "0.04": "super_reduced", "0": "zero"}


PRODUCTS = (
    DemoProduct("MOKA-3", "Moka pot, 3 cups, aluminium", "29.90", "0.22", "12.40", "12.95"),
    DemoProduct("MOKA-6", "Moka pot, 6 cups, aluminium", "36.50", "0.22", "15.10", None),
    DemoProduct("GRINDER-HAND", "Manual burr coffee grinder", "54.00", "0.22", "23.75", "24.10"),
    DemoProduct("MUG-350", "Stoneware mug, 350 ml", "8.50", "0.22", "2.85", None),
    DemoProduct("CUP-ESP-6", "Espresso cups with saucers, set of 6", "19.90", "0.22", "7.45", None, "set"),
    DemoProduct("BEANS-ESP-1KG", "Espresso beans, Arabica blend, 1 kg", "21.90", "0.22", "11.30", "11.85"),
    DemoProduct("BEANS-DEC-250", "Decaffeinated coffee beans, 250 g", "6.40", "0.22", "3.05", None),
    DemoProduct("TEA-SENCHA-100", "Sencha green tea, 100 g", "7.80", "0.10", "3.20", None),
    DemoProduct("CANTUCCI-250", "Almond cantucci, 250 g", "5.60", "0.10", "2.15", "2.30"),
    DemoProduct("HONEY-ACACIA-500", "Acacia honey, 500 g", "9.90", "0.10", "4.60", None),
    DemoProduct("OIL-EVO-750", "Extra virgin olive oil, 750 ml", "12.40", "0.04", "6.35", "6.80"),
    DemoProduct("PASTA-SPAG-1KG", "Durum wheat spaghetti, 1 kg", "2.95", "0.04", "1.12", None),
    DemoProduct("BOOK-ESPRESSO", "Espresso at Home, hardcover", "32.00", "0.04", "17.50", None),
    DemoProduct("MOKA-1", "Moka pot, 1 cup (discontinued)", "24.90", "0.22", "0", None, active=False),
    # A seat at a training course: education, exempt from VAT (category E).
    DemoProduct("COURSE-BARISTA", "Home barista course, one seat", "90.00", "0", "30.00", None,
                tax_class="exempt"),
)
ORDERABLE = tuple(p for p in PRODUCTS if p.active)


def _address(name: str, line1: str, city: str, postal_code: str, country: str,
             line2: str | None = None) -> dict[str, Any]:
    return {"name": name, "line1": line1, "line2": line2, "city": city, "postal_code": postal_code,
            "country": country}


# Business customers, entered by the back office.
CUSTOMERS: tuple[dict[str, Any], ...] = (
    {"code": "C-1001", "name": "Caffè Aurora S.r.l.", "email": "ordini@caffeaurora.example", "country": "IT",
     "language": "it", "tax_id": "IT04829610965", "payment_terms_days": 30,
     "billing_address": _address("Caffè Aurora S.r.l.", "Via Paolo Sarpi 22", "Milano", "20154", "IT"),
     "shipping_address": _address("Caffè Aurora, magazzino", "Via Giovanni Gentile 3", "Milano", "20157", "IT")},
    {"code": "C-1002", "name": "Bottega Conti di Marco Conti", "email": "marco@bottegaconti.example",
     "country": "IT", "language": "it", "tax_id": "IT02793451200", "payment_terms_days": 14,
     "billing_address": _address("Bottega Conti", "Via dell'Indipendenza 41", "Bologna", "40121", "IT")},
    {"code": "C-1003", "name": "Delikatesy Pod Lipami Sp. z o.o.", "email": "zamowienia@podlipami.example",
     "country": "PL", "language": "pl", "tax_id": "PL6772398046", "payment_terms_days": 45,
     "credit_limit": "4000.00",
     "billing_address": _address("Delikatesy Pod Lipami Sp. z o.o.", "ul. Floriańska 14", "Kraków", "31-021",
                                 "PL")},
    {"code": "C-1004", "name": "ООО «Самовар Трейд»", "email": "zakaz@samovar-trade.example", "country": "RU",
     "language": "ru", "tax_id": "7714512839", "payment_terms_days": 60,
     "billing_address": _address("ООО «Самовар Трейд»", "ул. Мясницкая, д. 24/7, стр. 1", "Москва", "101000",
                                 "RU")},
    {"code": "C-1005", "name": "Kaffeehaus Lindner GmbH", "email": "einkauf@kaffeehaus-lindner.example",
     "country": "DE", "language": "en", "tax_id": "DE287451934", "payment_terms_days": 30,
     "billing_address": _address("Kaffeehaus Lindner GmbH", "Kastanienallee 12", "Berlin", "10435", "DE")},
)
CREDIT_LIMITED = "C-1003"
#: The customer who stopped ordering: the one on the win-back list.
LAPSED = "C-1006"
#: A business customer invoiced in złoty (the other Polish one stays in EUR).
ZLOTY_CUSTOMER: dict[str, Any] = {
    "code": "C-1007", "name": "Kawiarnia Pod Arkadami Sp. z o.o.", "email": "biuro@podarkadami.example",
    "country": "PL", "language": "pl", "tax_id": "PL1234567883", "payment_terms_days": 30, "currency": "PLN",
    "billing_address": _address("Kawiarnia Pod Arkadami Sp. z o.o.", "ul. Długa 18", "Gdańsk", "80-827", "PL")}

# Consumers: the webshop sends the whole customer with their first order.
CONSUMERS: tuple[dict[str, Any], ...] = (
    {"code": "DS-0001", "name": "Giulia Ferraro", "email": "giulia.ferraro@mail.example", "country": "IT",
     "language": "it", "payment_terms_days": 14,
     "billing_address": _address("Giulia Ferraro", "Via Garibaldi 8", "Torino", "10122", "IT")},
    {"code": "DS-0002", "name": "Katarzyna Nowak", "email": "k.nowak@poczta.example", "country": "PL",
     "language": "pl", "payment_terms_days": 14,
     "billing_address": _address("Katarzyna Nowak", "ul. Piotrkowska 112", "Łódź", "90-006", "PL")},
    {"code": "DS-0003", "name": "Анна Соколова", "email": "anna.sokolova@pochta.example", "country": "RU",
     "language": "ru", "payment_terms_days": 14,
     "billing_address": _address("Анна Соколова", "Невский проспект, д. 28, кв. 5", "Санкт-Петербург", "191186",
                                 "RU")},
    {"code": "DS-0004", "name": "Jonas Becker", "email": "jonas.becker@post.example", "country": "DE",
     "language": "en", "payment_terms_days": 14,
     "billing_address": _address("Jonas Becker", "Schanzenstraße 7", "Hamburg", "20357", "DE")},
)

CARRIERS = {"IT": ("BRT", "Poste Italiane", "GLS"), "PL": ("InPost", "DPD"), "RU": ("DHL Express",),
            "DE": ("DHL", "DPD")}

# Every state appears at least once (in this order of priority when there are
# few orders); further orders follow the weights.
STATES = ("completed_overpaid", "completed", "partially_paid", "invoiced", "partially_shipped", "packed",
          "confirmed", "draft", "cancelled", "returned")
WEIGHTS = {"completed": 7, "invoiced": 3, "partially_paid": 2, "partially_shipped": 2, "packed": 1,
           "confirmed": 2, "draft": 1, "cancelled": 1, "returned": 1}
# How many days ago orders in each state were created.
AGE = {"completed_overpaid": (35, 55), "completed": (18, 58), "partially_paid": (25, 50), "invoiced": (8, 45),
       "partially_shipped": (4, 20), "packed": (1, 4), "confirmed": (0, 3), "draft": (0, 2),
       "cancelled": (3, 40), "returned": (30, 55)}
MASTER_DATA_DAYS_AGO = 62
DEMO_CURRENCIES = ("PLN", "USD")
#: ECB-like reference rates (units per euro), one a working day, repeated as
#: needed. The złoty weakens over the weeks, so the café's payment realises a
#: difference and the month-end revaluation shows one.
DEMO_RATES = {
    "PLN": ("4.2412", "4.2450", "4.2496", "4.2531", "4.2577", "4.2610", "4.2652", "4.2693", "4.2731", "4.2770",
            "4.2815", "4.2853", "4.2890", "4.2931", "4.2975"),
    "USD": ("1.1631", "1.1602", "1.1654", "1.1689", "1.1672", "1.1640", "1.1598", "1.1611", "1.1650", "1.1664",
            "1.1702", "1.1695", "1.1671", "1.1648", "1.1659"),
}
FIRST_RECEIPT_DAYS_AGO = 60
RESTOCK_DAYS_AGO = 28


@dataclass
class OrderPlan:
    index: int
    state: str
    channel: str                  # "web" or "webshop"
    customer: dict[str, Any]      # the master-data record
    lines: list[dict[str, Any]]
    created: dt.datetime
    external_ref: str | None = None
    ids: dict[str, int] = field(default_factory=dict)


def load_demo(engine: Engine, orders: int = 24) -> dict[str, str]:
    """Load the demo data set and return new API keys ``{name: key}``.

    On a database that already holds customers, products or orders nothing is
    loaded; only fresh keys are created, under suffixed names."""
    with unit_of_work(engine, DEMO_ACTOR, readonly=True) as tx:
        present = _present(tx)
    if present:
        keys, _ = _create_keys(engine)
        _say(f"The database already holds {present}: not loading demo data again. "
             f"New API keys: {', '.join(keys)}.")
        return keys

    keys, shop = _create_keys(engine)
    loader = _Loader(engine, shop, random.Random(SEED), clock.now())
    loader.load(max(orders, 0))
    # A month of bank statements: what the demo booked, and new money for cash application.
    bank = load_statements(engine, clock.now().date(), ACCOUNTANT.actor)
    _say(f"Imported {bank['statements']} bank statements with {bank['lines']} lines "
         f"({bank.get('new', 0)} new for cash application).")
    _apply_cash(engine)
    _check_books(engine)
    _say(loader.summary())
    return keys


def _apply_cash(engine: Engine) -> None:
    """Cash application over the new lines, as right after an import; then
    the accountant books the account fee. What stays is the worklist."""
    from o2c.services.cash import bankmatch
    counts = bankmatch.apply_lines(engine, CLERK.actor)
    with unit_of_work(engine, DEMO_ACTOR, readonly=True) as tx:
        fee = tx.conn.execute(select(m.BankLine.id).where(m.BankLine.bank_ref == "DEMO-FEE",
                                                          m.BankLine.status == "unmatched")).scalar()
    if fee is not None:
        with unit_of_work(engine, ACCOUNTANT.actor) as tx:
            bankmatch.book_line(tx, fee, {"account": "6800", "description": "Account fee"})
    _say(f"Cash application: {counts.get('matched', 0)} lines matched, {counts.get('suggested', 0)} suggested, "
         f"{counts.get('unmatched', 0)} left unmatched; the account fee booked.")


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _present(tx: Tx) -> str:
    """What business data the database holds already ("" when none)."""
    found = []
    for table, what in ((m.Customer.__table__, "customers"), (m.Product.__table__, "products"),
                        (m.Order.__table__, "orders")):
        n = tx.conn.execute(select(func.count()).select_from(table)).scalar_one()
        if n:
            found.append(f"{n} {what}")
    return ", ".join(found)


def _create_keys(engine: Engine) -> tuple[dict[str, str], Principal]:
    """The four demo keys, under the first free suffix: ``demo-admin``, then
    ``demo-admin-2``, ``demo-admin-3``… Returns the keys and the webshop's principal."""
    table = m.ApiKey.__table__
    with unit_of_work(engine, DEMO_ACTOR) as tx:
        taken = set(tx.conn.execute(select(table.c.name)).scalars())
        n = 1
        while any(_suffixed(name, n) in taken for name, _ in KEYS):
            n += 1
        keys: dict[str, str] = {}
        shop: Principal | None = None
        for name, role in KEYS:
            # Every demo-shop-N key serves the one demo webshop channel.
            info, key = apikeys.create_api_key(tx, _suffixed(name, n), role,
                                               channel=name if role == "webshop" else None)
            keys[info["name"]] = key
            if role == "webshop":
                shop = Principal("api_key", info["id"], info["name"], role, info["channel"])
    assert shop is not None
    return keys, shop


def _suffixed(name: str, n: int) -> str:
    return name if n == 1 else f"{name}-{n}"


def _check_books(engine: Engine) -> None:
    with unit_of_work(engine, DEMO_ACTOR, readonly=True) as tx:
        report = reconcile(tx)
    if not report["ok"]:
        bad = [f"{c['name']}: {c['left']} vs {c['right']} (difference {c['difference']})"
               for c in report["checks"] if c["difference"] != 0]
        raise RuntimeError("The demo data does not reconcile: " + "; ".join(bad))


@contextmanager
def _clock_at(when: dt.datetime) -> Iterator[None]:
    """Run services as if it were ``when`` (the clock is the services' only
    source of time)."""
    real = clock.now
    clock.now = lambda: when  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.now = real  # type: ignore[assignment]


Step = tuple[dt.datetime, int, int, str, Callable[[Tx], None]]  # when, order, step no, actor, action


class _Loader:
    def __init__(self, engine: Engine, shop: Principal, rng: random.Random, now: dt.datetime):
        self.engine = engine
        self.shop = shop
        self.rng = rng
        self.now = now
        self.bank_refs = 0
        self.customer_ids: dict[str, int] = {}
        self.plans: list[OrderPlan] = []
        self.letters = 0

    # -- time ----------------------------------------------------------------
    def ago(self, days: float, hours: float = 0.0) -> dt.datetime:
        """A moment in the past: ``days`` days and ``hours`` hours ago, never now or later."""
        return self.now - dt.timedelta(days=days, hours=hours, minutes=1)

    def later(self, when: dt.datetime, hours: float) -> dt.datetime:
        """``hours`` after ``when``, but still in the past."""
        return min(when + dt.timedelta(hours=hours), self.now - dt.timedelta(seconds=30))

    def run(self, when: dt.datetime, actor: str, action: Callable[[Tx], Any]) -> Any:
        with _clock_at(when), unit_of_work(self.engine, actor) as tx:
            return action(tx)

    # -- the story -----------------------------------------------------------
    def load(self, n_orders: int) -> None:
        self.plans = self.plan_orders(n_orders)
        self.master_data()
        self.currencies()
        self.receive_stock()
        steps: list[Step] = []
        for plan in self.plans:
            steps.extend(self.steps_for(plan))
        steps.sort(key=lambda s: (s[0], s[1], s[2]))
        for when, _, _, actor, action in steps:
            self.run(when, actor, action)
        self.quotations()
        self.credit_review()
        self.chase_overdue()
        self.after_the_sale()
        self.zloty_sales()

    def master_data(self) -> None:
        when = self.ago(MASTER_DATA_DAYS_AGO, 3)
        # The company sells to consumers across the EU through the One-Stop
        # Shop: German and Polish consumers pay their own country's VAT.
        self.run(when, ADMIN_ACTOR, lambda tx: company.update_company(
            tx, {"country": "IT", "vat_id": COMPANY_VAT_ID, "oss_registered": True}))
        for p in PRODUCTS:
            data = s.ProductIn().load({"sku": p.sku, "name": p.name, "unit_price": p.price, "vat_rate": p.vat,
                                       "tax_class": p.tax_class or TAX_CLASS_OF[p.vat],
                                       "unit": p.unit, "active": p.active})
            self.run(when, CLERK.actor, lambda tx, d=data: catalog.create_product(tx, d))
        for c in CUSTOMERS:
            # The webshop orders for business customers too: they are shared
            # with its channel (its consumers get it by being created there).
            # Business customers get their invoices by e-mail as they are
            # issued (the worker writes them to instance/outbox/ unless
            # O2C_MAIL_URL names a server); consumers' stay manual.
            data = s.CustomerIn().load({**{k: v for k, v in c.items() if k != "credit_limit"},
                                        "channels": [self.shop.name], "send_invoices": "auto"})
            self.customer_ids[c["code"]] = self.run(
                when, CLERK.actor, lambda tx, d=data: records.create_customer(tx, d))["id"]

    def currencies(self) -> None:
        """PLN and USD enabled, with the ECB's reference rates of the last
        two weeks' working days (ECB-like figures) and a fixed złoty price for
        the moka pot. Russian customers stay in EUR: the ECB publishes no RUB
        rate (the currencies table names ``manual`` as RUB's source)."""
        when = self.ago(MASTER_DATA_DAYS_AGO, 2)
        for code in DEMO_CURRENCIES:
            self.run(when, ADMINISTRATOR.actor, lambda tx, c=code: fx.set_currency(tx, c, True))
        days = [d for d in (self.now.date() - dt.timedelta(days=n) for n in range(20, -1, -1)) if d.weekday() < 5]
        for i, day in enumerate(days):
            published = min(dt.datetime.combine(day, dt.time(15, 0), tzinfo=dt.timezone.utc),
                            self.now - dt.timedelta(minutes=1))
            for code, series in DEMO_RATES.items():
                rate = Decimal(series[i % len(series)])
                self.run(published, ADMINISTRATOR.actor,
                         lambda tx, c=code, d=day, r=rate: fx.record_rate(tx, c, d, r, "ecb"))
        self.run(when, ADMINISTRATOR.actor, lambda tx: fx.set_price(tx, "MOKA-3", "PLN", Decimal("129.00")))

    def zloty_sales(self) -> None:
        """A Polish café that buys in złoty: two invoices in PLN at their
        days' rates (the moka pot at its złoty list price), the first paid in
        part a few days later at that day's rate, so the ledger shows a
        realised exchange difference; the second still open."""
        code, sku = ZLOTY_CUSTOMER["code"], "MOKA-3"
        cost = Decimal(next(p.cost for p in PRODUCTS if p.sku == sku))
        data = s.CustomerIn().load(ZLOTY_CUSTOMER)
        cid = self.run(self.ago(16, 2), CLERK.actor, lambda tx: records.create_customer(tx, data))["id"]
        invoice_ids = []
        for k, days in enumerate((15, 6)):
            when = self.ago(days, 3)
            self.run(when, CLERK.actor, lambda tx: stock.receive(tx, sku, 4, cost))
            oid = self.run(when, CLERK.actor, lambda tx: _id(orders.create_order(tx, CLERK, s.OrderIn().load({
                "customer": {"code": code}, "confirm": True, "lines": [{"sku": sku, "quantity": 4 - k}]}))))
            sid = self.run(when, CLERK.actor, lambda tx, o=oid: _id(shipping.pack(tx, o, CLERK, None)))
            shipped = self.run(self.later(when, 1), CLERK.actor,
                               lambda tx, sh=sid: shipping.ship(tx, sh, CLERK, "InPost", f"INP6200000{k}"))
            invoice_ids.append(shipped["invoice_id"])
        paid = self.ago(10, 4)
        payment = s.PaymentIn().load({
            "customer_id": cid, "amount": "300.00", "currency": "PLN", "received_on": paid.date().isoformat(),
            "method": "bank_transfer", "reference": f"PKO-{paid:%Y%m%d}-0001",
            "allocations": [{"invoice_id": invoice_ids[0], "amount": "300.00"}]})
        self.run(paid, ACCOUNTANT.actor, lambda tx: payments.record_payment(tx, payment))
        self.revalue(self.ago(14))

    def revalue(self, owed_since: dt.datetime) -> None:
        """The accountant revalues the złoty owed at last month's end (the day
        after it, as accountants do), or three days ago when the café owed
        nothing yet then: an unrealised difference and its reversal."""
        month_end = self.now.date().replace(day=1) - dt.timedelta(days=1)
        as_of = month_end if month_end >= owed_since.date() else (self.now - dt.timedelta(days=3)).date()
        when = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(9), tzinfo=dt.timezone.utc)
        self.run(min(when, self.ago(0, 1)), ACCOUNTANT.actor, lambda tx: revaluation.revalue(tx, as_of))

    def credit_review(self) -> None:
        """Credit limits are agreed after the first months of trading (planning
        keeps each limited customer's orders within it)."""
        for c in CUSTOMERS:
            if c.get("credit_limit") is not None:
                data = {"credit_limit": Decimal(c["credit_limit"])}
                cid = self.customer_ids[c["code"]]
                self.run(self.ago(0, 0.25), ACCOUNTANT.actor,
                         lambda tx, d=data, cid=cid: records.update_customer(tx, cid, d))

    def chase_overdue(self) -> None:
        """The accountant's dunning run today: a letter to each customer with
        overdue invoices, rendered and e-mailed by the worker."""
        self.letters = len(self.run(self.ago(0, 0.2), ACCOUNTANT.actor,
                                    lambda tx: dunning.run(tx, tx.today, Config().DUNNING_DAYS))["letters"])

    def after_the_sale(self) -> None:
        """Customers after the sale: a regular customer who stopped ordering
        (the one customer on the win-back list, with the signals that may say
        why), this morning's orders from everyone else whose rhythm says an
        order is due, satisfaction messages for last week's deliveries with one
        unhappy answer (a follow-up task), a welcome coupon, and the
        associations and RFM figures computed as the worker would."""
        self.lapsed_customer()
        self.reorders_due()
        self.run(self.ago(1), CLERK.actor, lambda tx: coupons.create_coupon(tx, CLERK, {
            "code": "WELCOME10", "percent_off": Decimal("10"), "max_redemptions": 100}))
        asked = self.run(self.ago(0, 2), "worker", lambda tx: feedback.queue_followups(
            tx, "http://localhost:8000", 7))
        for n, (_, token) in enumerate(asked[:3]):
            score, comment = [(2, "The grinder arrived with a dented lid."), (5, None), (4, None)][n]
            self.run(self.ago(0, 1), "customer:feedback",
                     lambda tx, t=token, sc=score, cm=comment: feedback.answer(tx, t, sc, cm))
        self.run(self.ago(0, 0.5), "worker", lambda tx: (associations.recompute(tx), insights.refresh_rfm(tx)))

    def lapsed_customer(self) -> None:
        """Trattoria Da Nino ordered moka pots every week at a trade price,
        sent one pot of the last delivery back (its credit note settles part
        of that invoice), paid the rest, and has not ordered for five weeks
        since; the list price is above what they paid."""
        lapsed = {"code": LAPSED, "name": "Trattoria Da Nino", "email": "nino@trattoria-nino.example",
                  "country": "IT", "language": "it", "payment_terms_days": 30,
                  "billing_address": _address("Trattoria Da Nino", "Via Toledo 120", "Napoli", "80134", "IT")}
        start = self.ago(FIRST_RECEIPT_DAYS_AGO - 1, 1)
        self.run(start, CLERK.actor, lambda tx: records.create_customer(tx, s.CustomerIn().load(lapsed)))
        pot = ORDERABLE[1]
        trade_price = str(round_money(Decimal(pot.price) * Decimal("0.90")))
        for k in range(4):  # weekly, then nothing
            when = start + dt.timedelta(days=7 * k, hours=1)
            self.run(when, CLERK.actor, lambda tx: stock.receive(tx, pot.sku, 3, Decimal(pot.cost)))
            oid = self.run(when, CLERK.actor, lambda tx: _id(orders.create_order(tx, CLERK, s.OrderIn().load({
                "customer": {"code": LAPSED}, "currency": "EUR", "confirm": True,
                "lines": [{"sku": pot.sku, "quantity": 3, "unit_price": trade_price}]}))))
            sid = self.run(when, CLERK.actor, lambda tx, o=oid: _id(shipping.pack(tx, o, CLERK, None)))
            self.run(self.later(when, 4), CLERK.actor,
                     lambda tx, sh=sid, n=k: shipping.ship(tx, sh, CLERK, "BRT", f"BRT20000000{n}"))
            if k == 3:  # a pot of the last delivery comes back: its credit note settles part of the invoice
                self.run(self.later(when, 24 * 5), CLERK.actor, lambda tx, o=oid: returns.create_return(
                    tx, o, CLERK, s.ReturnIn().load({"lines": [{"sku": pot.sku, "quantity": 1}], "restock": True,
                                                     "refund": "credit"})))
            self.run(self.later(when, 24 * 10), ACCOUNTANT.actor, lambda tx, o=oid: self.pay_all(tx, o))

    def pay_all(self, tx: Tx, order_id: int) -> None:
        """The order's invoices paid in full by bank transfer today."""
        order = orders.get_order(tx, order_id, ACCOUNTANT)
        due = [(iid, invoicing.get_invoice(tx, iid, ACCOUNTANT)["balance_due"]) for iid in order["invoice_ids"]]
        self.bank_refs += 1
        payments.record_payment(tx, s.PaymentIn().load({
            "customer_id": order["customer_id"], "amount": f"{sum(b for _, b in due):.2f}", "currency": "EUR",
            "received_on": tx.today.isoformat(), "method": "bank_transfer",
            "reference": f"SEPA-{tx.today:%Y%m%d}-{self.bank_refs:04d}",
            "allocations": [{"invoice_id": iid, "amount": str(b)} for iid, b in due]}))

    def reorders_due(self) -> None:
        """This morning's orders: every customer but Da Nino whose time since
        their last order passed the win-back threshold orders again what they
        bought last (one unit), so the win-back list shows the one customer
        who really stopped, whatever the hour the demo is loaded at."""
        cfg = Config()
        when = self.ago(0, 1.5)
        due = self.run(when, CLERK.actor, lambda tx: [
            w["code"] for w in winback.lapsed(tx, CLERK, tx.today, cfg.WINBACK_FACTOR, cfg.WINBACK_ONE_TIME_DAYS)
            if w["code"] != LAPSED])
        consumers = {c["code"]: c for c in CONSUMERS}
        for n, code in enumerate(due):
            sku = self.run(when, CLERK.actor, lambda tx, c=code: tx.conn.execute(
                select(m.OrderLine.sku).join(m.Order, m.Order.id == m.OrderLine.order_id)
                .join(m.Customer, m.Customer.id == m.Order.customer_id).where(m.Customer.code == c)
                .order_by(m.OrderLine.id.desc()).limit(1)).scalar_one())
            cost = next(Decimal(p.restock_cost or p.cost) for p in PRODUCTS if p.sku == sku)
            self.run(when, CLERK.actor, lambda tx, k=sku, c=cost: stock.receive(tx, k, 1, c))
            webshop = code in consumers
            data = s.OrderIn().load({
                "customer": dict(consumers[code]) if webshop else {"code": code}, "currency": "EUR",
                "external_ref": f"DS-{20001 + n}" if webshop else None, "confirm": True,
                "lines": [{"sku": sku, "quantity": 1}]})
            self.run(when, self.shop.actor if webshop else CLERK.actor,
                     lambda tx, d=data, p=(self.shop if webshop else CLERK): orders.create_order(tx, p, d))

    def receive_stock(self) -> None:
        """Enough for every planned order, then a restock of some lines at a new cost."""
        demand: Counter[str] = Counter()
        for plan in self.plans:
            for line in plan.lines:
                demand[line["sku"]] += line["quantity"]
        first = self.ago(FIRST_RECEIPT_DAYS_AGO, 2)
        restock = self.ago(RESTOCK_DAYS_AGO, 5)
        for p in ORDERABLE:
            qty = demand[p.sku] + self.rng.randint(3, 8) * 5
            self.run(first, CLERK.actor, lambda tx, p=p, q=qty: stock.receive(tx, p.sku, q, Decimal(p.cost)))
            if p.restock_cost:
                qty = self.rng.randint(2, 6) * 5
                self.run(restock, CLERK.actor,
                         lambda tx, p=p, q=qty: stock.receive(tx, p.sku, q, Decimal(p.restock_cost)))

    def plan_orders(self, n: int) -> list[OrderPlan]:
        rng = self.rng
        states = list(STATES[:n])
        pool = [st for st, w in WEIGHTS.items() for _ in range(w)]
        states += [rng.choice(pool) for _ in range(n - len(states))]
        rng.shuffle(states)
        limited = next(c for c in CUSTOMERS if c["code"] == CREDIT_LIMITED)
        limited_room = Decimal(limited["credit_limit"])
        plans = []
        for i, state in enumerate(states):
            if state == "draft":
                channel = "web"
            elif state == "completed_overpaid":
                channel = "web"  # a business customer's bank transfer
            else:
                channel = rng.choice(("web", "webshop"))
            consumer = channel == "webshop" and rng.random() < 0.7
            lines = self.plan_lines(consumer, min_lines=2 if state == "partially_shipped" else 1)
            if consumer:
                customer = rng.choice(CONSUMERS)
            else:
                customer = rng.choice(CUSTOMERS)
                if customer["code"] == CREDIT_LIMITED:
                    # Never over the limit, even if every order were still open.
                    gross = _gross(lines)
                    if gross > limited_room:
                        customer = rng.choice([c for c in CUSTOMERS if c["code"] != CREDIT_LIMITED])
                    else:
                        limited_room -= gross
            lo, hi = AGE[state]
            created = self.ago(rng.randint(lo, hi), rng.uniform(1, 9))
            plans.append(OrderPlan(
                index=i, state=state, channel=channel, customer=customer,
                lines=lines, created=created,
                external_ref=f"DS-{10001 + i}" if channel == "webshop" else None,
            ))
        return plans

    def plan_lines(self, consumer: bool, min_lines: int) -> list[dict[str, Any]]:
        rng = self.rng
        count = max(min_lines, rng.randint(1, 3) if consumer else rng.randint(2, 4))
        lines = []
        for p in rng.sample(ORDERABLE, count):
            qty = rng.randint(1, 3) if consumer else rng.choice((2, 3, 4, 6, 6, 10, 12))
            line: dict[str, Any] = {"sku": p.sku, "quantity": qty}
            if not consumer and rng.random() < 0.25:
                line["discount"] = rng.choice(("0.05", "0.10"))
            lines.append(line)
        return lines

    # -- quotations -----------------------------------------------------------
    def quotations(self) -> None:
        """One quotation in every state: a draft, one sent, one negotiated to a
        second revision, one accepted (its order shipped and invoiced), one
        declined, one expired, one withdrawn."""
        base = "http://localhost:5000"

        def new(tx: Tx, code: str, lines: list[dict[str, Any]], valid_days: int, **terms: Any) -> int:
            return _id(quotes.create_quote(tx, CLERK, {
                "customer": {"code": code}, "lines": lines,
                "valid_until": tx.today + dt.timedelta(days=valid_days), **terms}))

        def send(qid: int) -> Callable[[Tx], Any]:
            return lambda tx: quote_documents.send(tx, qid, CLERK, base)

        grinders = [{"sku": "GRINDER-HAND", "quantity": 6, "discount": Decimal("0.05")},
                    {"sku": "MUG-350", "quantity": 24, "unit_price": Decimal("7.90")},
                    {"sku": "CUP-ESP-6", "quantity": 4, "optional": True}]
        # Accepted and shipped: negotiated once, accepted with its option.
        t = self.ago(18, 4)
        # What the accepted quotation takes is on the shelf, however few orders came before it.
        self.run(t, CLERK.actor, lambda tx: stock.receive(tx, "GRINDER-HAND", 6, Decimal("23.90")))
        self.run(t, CLERK.actor, lambda tx: stock.receive(tx, "MUG-350", 24, Decimal("2.85")))
        self.run(t, CLERK.actor, lambda tx: stock.receive(tx, "CUP-ESP-6", 4, Decimal("7.45")))
        won = self.run(t, CLERK.actor, lambda tx: new(tx, "C-1001", grinders, 30, payment_terms_days=60,
                                                      delivery_terms="DAP Milano, within 10 days"))
        self.run(self.later(t, 1), CLERK.actor, send(won))
        better = [{**grinders[0], "discount": Decimal("0.08")}, *grinders[1:]]
        self.run(self.ago(16, 2), CLERK.actor, lambda tx: quotes.update_quote(tx, won, CLERK, {"lines": better}))
        self.run(self.ago(16, 1), CLERK.actor, send(won))
        accepted = self.run(self.ago(15, 3), "public:quote-link", lambda tx: quotes.accept_quote(
            tx, won, CLERK, {"accepted_by": "Giulia Ferrante", "purchase_order": "AUR-PO-2231",
                             "optional_skus": ["CUP-ESP-6"]}, ip="198.51.100.23"))
        plan = OrderPlan(-1, "shipped", "web", {"country": "IT"}, [], self.ago(15, 3))
        plan.ids["order"] = accepted["order_id"]
        self.run(self.ago(14, 5), CLERK.actor, lambda tx: self.pack(tx, plan, None))
        self.run(self.ago(14, 2), CLERK.actor, lambda tx: self.ship(tx, plan))

        beans = [{"sku": "BEANS-ESP-1KG", "quantity": 20, "discount": Decimal("0.10")},
                 {"sku": "CANTUCCI-250", "quantity": 30}]
        # Expired: sent, never answered.
        t = self.ago(40, 3)
        old = self.run(t, CLERK.actor, lambda tx: new(tx, "C-1002", beans, 20))
        self.run(self.later(t, 2), CLERK.actor, send(old))
        self.run(self.ago(19), "worker", lambda tx: quotes.expire_due(tx))
        # Declined, for the price.
        t = self.ago(9, 6)
        lost = self.run(t, CLERK.actor, lambda tx: new(tx, "C-1002", beans, 30))
        self.run(self.later(t, 1), CLERK.actor, send(lost))
        self.run(self.ago(6, 2), "public:quote-link", lambda tx: quotes.decline_quote(
            tx, lost, CLERK, {"reason": "price", "comment": "Found the beans 8 % cheaper elsewhere."}))
        # Withdrawn before it went out.
        gone = self.run(self.ago(7, 1), CLERK.actor, lambda tx: new(tx, "C-1001", beans, 30))
        self.run(self.ago(6, 5), CLERK.actor, lambda tx: quotes.cancel_quote(tx, gone, CLERK))
        # Sent, negotiated to a second revision and sent again; sent; a draft.
        t = self.ago(5, 4)
        talk = self.run(t, CLERK.actor, lambda tx: new(tx, "C-1001", grinders, 30))
        self.run(self.later(t, 1), CLERK.actor, send(talk))
        self.run(self.ago(3, 2), CLERK.actor, lambda tx: quotes.update_quote(
            tx, talk, CLERK, {"payment_terms_days": 45, "lines": better}))
        self.run(self.ago(3, 1), CLERK.actor, send(talk))
        t = self.ago(2, 3)
        out = self.run(t, CLERK.actor, lambda tx: new(tx, "C-1002", beans, 30))
        self.run(self.later(t, 1), CLERK.actor, send(out))
        self.run(self.ago(0, 5), CLERK.actor, lambda tx: new(tx, "C-1001", beans[:1], 30, note="Price on request"))

    # -- one order's events ----------------------------------------------------
    def steps_for(self, plan: OrderPlan) -> list[Step]:
        rng = self.rng
        steps: list[Step] = []
        web = plan.channel == "web"
        creator = CLERK if web else self.shop

        def add(when: dt.datetime, actor: str, action: Callable[[Tx], None]) -> None:
            steps.append((when, plan.index, len(steps), actor, action))

        confirm_now = not web and plan.state not in ("draft",)
        add(plan.created, creator.actor, lambda tx: self.create(tx, plan, creator, confirm_now))
        t = plan.created
        if web and plan.state != "draft":
            t = self.later(t, rng.uniform(0.2, 3))
            if plan.state == "cancelled":
                # A back-office order entered twice by mistake: cancelled before confirmation.
                add(t, CLERK.actor, lambda tx: orders.cancel_order(tx, plan.ids["order"], CLERK))
                return steps
            add(t, CLERK.actor, lambda tx: orders.confirm_order(tx, plan.ids["order"], CLERK))
        if plan.state == "cancelled":
            # The webshop's customer changed their mind: the shop cancels, stock is released.
            t = self.later(t, rng.uniform(2, 30))
            add(t, self.shop.actor, lambda tx: orders.cancel_order(tx, plan.ids["order"], self.shop))
            return steps
        if plan.state in ("draft", "confirmed"):
            return steps

        t = self.later(t, rng.uniform(18, 30))
        if plan.state == "partially_shipped":
            # The first line goes now; the rest waits for the next delivery round.
            first = plan.lines[0]
            add(t, CLERK.actor, lambda tx: self.pack(tx, plan, [{"sku": first["sku"], "quantity": first["quantity"]}]))
        else:
            add(t, CLERK.actor, lambda tx: self.pack(tx, plan, None))
        if plan.state == "packed":
            return steps
        t = self.later(t, rng.uniform(1, 6))
        add(t, CLERK.actor, lambda tx: self.ship(tx, plan))
        if plan.state not in ("completed", "completed_overpaid", "partially_paid", "returned"):
            return steps
        terms = plan.customer["payment_terms_days"]
        t = self.later(t, 24 * rng.randint(2, max(3, terms)) + rng.uniform(0, 8))
        add(t, ACCOUNTANT.actor, lambda tx: self.pay(tx, plan))
        if plan.state == "returned":
            t = self.later(t, rng.uniform(24, 96))
            add(t, CLERK.actor, lambda tx: self.give_back(tx, plan))
        return steps

    # -- actions (each runs in its own transaction) ------------------------------
    def create(self, tx: Tx, plan: OrderPlan, principal: Principal, confirm: bool) -> None:
        c = plan.customer
        # A webshop sends its consumer whole with every order (created the first
        # time, reused by code after); business customers are referred to by code.
        ref = dict(c) if c in CONSUMERS else {"code": c["code"]}
        # Back-office orders promise a delivery date (the on-time and perfect-order KPIs).
        promised = (plan.created + dt.timedelta(days=2 + plan.index % 4)).date().isoformat() \
            if plan.channel == "web" else None
        data = s.OrderIn().load({
            "external_ref": plan.external_ref, "customer": ref, "currency": "EUR",
            "lines": plan.lines, "confirm": confirm, "promised_date": promised,
        })
        plan.ids["order"] = _id(orders.create_order(tx, principal, data))

    def pack(self, tx: Tx, plan: OrderPlan, lines: list[dict[str, Any]] | None) -> None:
        plan.ids["shipment"] = _id(shipping.pack(tx, plan.ids["order"], CLERK, lines))

    def ship(self, tx: Tx, plan: OrderPlan) -> None:
        carrier = self.rng.choice(CARRIERS[plan.customer["country"]])
        tracking = f"{carrier[:3].upper().replace(' ', '')}{self.rng.randint(10**9, 10**10 - 1)}"
        shipping.ship(tx, plan.ids["shipment"], CLERK, carrier, tracking)

    def pay(self, tx: Tx, plan: OrderPlan) -> None:
        order = orders.get_order(tx, plan.ids["order"], ACCOUNTANT)
        open_invoices = []
        for iid in order["invoice_ids"]:
            balance = invoicing.get_invoice(tx, iid, ACCOUNTANT)["balance_due"]
            if balance > 0:
                open_invoices.append((iid, balance))
        due = sum((b for _, b in open_invoices), Decimal(0))
        if plan.state == "partially_paid":
            share = self.rng.choice((Decimal("0.3"), Decimal("0.5"), Decimal("0.6")))
            iid, balance = open_invoices[0]
            amount = max(round_money(balance * share), Decimal("0.01"))
            allocations = [{"invoice_id": iid, "amount": str(amount)}]
        else:
            amount = due
            if plan.state == "completed_overpaid":
                # Paid a round figure: the excess stays as the customer's credit.
                amount = (due / 50).to_integral_value(rounding=ROUND_CEILING) * 50
                if amount - due < 5:
                    amount += 50
            allocations = [{"invoice_id": iid, "amount": str(b)} for iid, b in open_invoices]
        consumer = plan.customer in CONSUMERS
        self.bank_refs += 1
        reference = (f"PSP-{self.rng.getrandbits(48):012x}" if consumer
                     else f"SEPA-{tx.today:%Y%m%d}-{self.bank_refs:04d}")
        data = s.PaymentIn().load({
            "customer_id": order["customer_id"], "amount": f"{amount:.2f}", "currency": "EUR",
            "received_on": tx.today.isoformat(), "method": "card" if consumer else "bank_transfer",
            "reference": reference, "allocations": allocations,
        })
        payments.record_payment(tx, data)

    def give_back(self, tx: Tx, plan: OrderPlan) -> None:
        """One unit of the first line comes back unused: restocked, a credit
        note for it, and the money paid back to the bank."""
        data = s.ReturnIn().load({"lines": [{"sku": plan.lines[0]["sku"], "quantity": 1}],
                                  "restock": True, "refund": "bank"})
        returns.create_return(tx, plan.ids["order"], CLERK, data)

    # -- the report ---------------------------------------------------------------
    def summary(self) -> str:
        with unit_of_work(self.engine, DEMO_ACTOR, readonly=True) as tx:
            n_customers = tx.conn.execute(select(func.count()).select_from(m.Customer.__table__)).scalar_one()
            credit = tx.conn.execute(select(func.coalesce(func.sum(m.Payment.__table__.c.unapplied), 0))).scalar_one()
        states = Counter(p.state for p in self.plans)
        mix = ", ".join(f"{states[st]} {st.replace('_', ' ')}" for st in STATES if states[st])
        channels = Counter(p.channel for p in self.plans)
        detail = (f" ({mix}; {channels['webshop']} from the webshop {self.shop.name!r}, "
                  f"{channels['web']} from the back office)") if self.plans else ""
        return (f"Loaded demo data: {n_customers} customers, {len(PRODUCTS)} products, {len(self.plans)} orders"
                f"{detail}; customer credit {Decimal(credit):.2f} EUR; {self.letters} dunning letter"
                f"{'s' if self.letters != 1 else ''}. The books reconcile. Invoices and letters are e-mailed by "
                "the worker (as .eml files in instance/outbox/ unless O2C_MAIL_URL is set).")


def _id(result: Any) -> int:
    """The id of what a service created (services return the id or the new document)."""
    return int(result["id"] if isinstance(result, dict) else result)


def _gross(lines: list[dict[str, Any]]) -> Decimal:
    prices = {p.sku: (Decimal(p.price), Decimal(p.vat)) for p in PRODUCTS}
    return document_totals(
        (line_net(l["quantity"], prices[l["sku"]][0], Decimal(l.get("discount", "0"))), prices[l["sku"]][1])
        for l in lines
    ).gross


# Back-office users for the web forms, one per role, all with the same
# documented password (README, "Signing in"). Created once; never changed.
DEMO_USERS = (("clerk", "clerk"), ("accountant", "accountant"), ("admin", "admin"))
DEMO_PASSWORD = "o2c-demo"


def ensure_demo_users(engine: Engine) -> list[str]:
    """Create the demo users that do not exist yet; returns the names created."""
    from o2c.services.platform import users
    created = []
    for name, role in DEMO_USERS:
        with unit_of_work(engine, DEMO_ACTOR) as tx:
            if not users.user_exists(tx, name):
                users.create_user(tx, name, DEMO_PASSWORD, role)
                created.append(name)
    return created
