"""Cash application rules on their own, in combination, and a property: for
random invoices and statements built from them (split, merged, rounded, with
typos in the references) every line ends on the invoice it came from or in
the worklist — never on a wrong invoice."""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import replace
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from o2c.documents.payment import creditor_reference, grouped
from o2c.domain import cashmatch as cm

DAY = dt.date(2026, 11, 2)
IBAN_A = "DE89370400440532013000"
IBAN_B = "IT60X0542811101000000123456"


def inv(id_: int, cid: int, balance: str, days: int = 0, order: str = "") -> cm.OpenInvoice:
    return cm.OpenInvoice(id_, f"INV-2026-{id_:06d}", cid, D(balance), DAY + dt.timedelta(days=days),
                          order or f"SO-2026-{id_ + 500:06d}")


def items(*invoices: cm.OpenInvoice, ibans: dict[str, int] | None = None,
          names: dict[int, str] | None = None, refunds: tuple[cm.OpenRefund, ...] = ()) -> cm.OpenItems:
    return cm.OpenItems([replace(i) for i in invoices], ibans or {}, names or {}, refunds)


def line(amount: str, remittance: str = "", iban: str = "", name: str = "") -> cm.LineFacts:
    return cm.LineFacts(D(amount), DAY, name, iban, remittance)


def only(name: str, **params: object) -> list[cm.Rule]:
    return [cm.Rule(name, True, {**dict(cm.DEFAULT_RULES)[name], **params})]


RULES = cm.default_rules()


# -- extraction -----------------------------------------------------------------

def test_numbers_are_found_with_and_without_separators_in_the_order_written():
    text = "pay inv 2026 000046 and INV2026000045, also INV-2026-47 / SO-2026-000501"
    assert cm.numbers_in(text) == ["INV2026000046", "INV2026000045", "INV2026000047", "SO2026000501"]
    assert cm.number_key("INV-2026-000045") == "INV2026000045"


def test_creditor_references_are_found_grouped_and_checked():
    ref = creditor_reference("INV-2026-000045")
    assert cm.creditor_references_in(f"Ref {grouped(ref)} thanks") == [ref]
    broken = ref[:-1] + ("6" if ref[-1] != "6" else "7")
    assert cm.creditor_references_in(broken) == []


# -- each rule on its own ---------------------------------------------------------

def booked(id_: int, cid: int, amount: str, days: int = 0, settled: tuple[int, ...] = (),
           reference: str = "", gl: str = "1000") -> cm.BookedPayment:
    return cm.BookedPayment(id_, f"PAY-2026-{id_:06d}", cid, D(amount), DAY + dt.timedelta(days=days), gl,
                            reference, frozenset(f"INV2026{i:06d}" for i in settled))


def test_a_line_reporting_a_payment_booked_before_links_to_it_and_posts_nothing():
    # INV 45 is paid already (by payment 7, typed in); the statement line for that money comes later.
    book = cm.OpenItems([inv(46, 1, "80.00")], {IBAN_A: 1}, {}, (),
                        [booked(7, 1, "100.00", days=-2, settled=(45,)), booked(8, 2, "100.00")], {3: "1000"})
    by_ref = replace(line("100.00", creditor_reference("INV-2026-000045")), bank_account_id=3)
    d = cm.decide(by_ref, book, RULES)
    assert (d.status, d.rule, d.payment_ids, d.allocations, d.customer_id) == ("matched", cm.BOOKED, [7], [], 1)
    assert cm.decide(replace(line("100.00", "INV 2026 45"), bank_account_id=3), book, RULES).payment_ids == [7]
    assert cm.decide(replace(line("100.00", iban=IBAN_A), bank_account_id=3), book, RULES).payment_ids == [7]
    # Another amount, or a line that names neither customer: the ordinary rules.
    assert cm.decide(replace(line("80.00", iban=IBAN_A), bank_account_id=3), book, RULES).rule == cm.IBAN
    assert cm.decide(replace(line("100.00", "thanks"), bank_account_id=3), book, RULES).status == "unmatched"
    # The payment's own reference in the remittance names it; another bank account's GL does not hold it.
    book.booked[8] = booked(8, 2, "100.00", reference="ABC-778899")
    assert cm.decide(replace(line("100.00", "ref abc-778899"), bank_account_id=3), book, RULES).payment_ids == [8]
    other = cm.OpenItems([], {}, {}, (), [booked(8, 2, "100.00", reference="ABC-778899")], {3: "1000", 4: "1010"})
    assert cm.decide(replace(line("100.00", "ref abc-778899"), bank_account_id=4), other, RULES).rule is None


def test_booked_payments_outside_the_window_or_two_of_them():
    book = cm.OpenItems([], {IBAN_A: 1}, {}, (), [booked(7, 1, "100.00", days=-6)], {3: "1000"})
    far = replace(line("100.00", iban=IBAN_A), bank_account_id=3)
    assert cm.decide(far, book, RULES).rule == cm.IBAN  # six days apart: not within 5
    wider = [cm.Rule(cm.BOOKED, True, {"days": 6}), *RULES[1:]]
    assert cm.decide(far, book, wider).payment_ids == [7]
    book.booked[7] = booked(7, 1, "100.00", days=-2)
    book.booked[9] = booked(9, 1, "100.00", days=1)
    d = cm.decide(replace(line("100.00", iban=IBAN_A), bank_account_id=3), book, RULES)
    # Two candidates: a suggestion (the closest first), and no later rule posts the cash again.
    assert (d.status, d.rule, d.payment_ids) == ("suggested", cm.BOOKED, [9, 7])
    assert d.suggestion()["payment_ids"] == [9, 7]
    book.payment_reported(9)
    assert cm.decide(replace(line("100.00", iban=IBAN_A), bank_account_id=3), book, RULES).payment_ids == [7]


def test_reference_pays_that_invoice_and_the_excess_is_credit():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "50.00", days=-5))
    d = cm.decide(line("130.00", creditor_reference("INV-2026-000045")), book, only(cm.REFERENCE))
    assert (d.status, d.rule, d.customer_id, d.allocations) == ("matched", cm.REFERENCE, 1, [(45, D("100.00"))])


def test_reference_with_a_typo_is_no_reference():
    ref = creditor_reference("INV-2026-000045")
    typo = ref[:8] + ref[9] + ref[8] + ref[10:]  # two characters swapped
    book = items(inv(45, 1, "100.00"))
    assert cm.decide(line("100.00", typo), book, only(cm.REFERENCE)).status == "unmatched"


def test_numbers_in_text_pay_in_the_order_written_when_the_amount_agrees():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "50.00"), inv(47, 1, "20.00", days=-9))
    d = cm.decide(line("150.00", "INV 2026 000046, INV2026000045"), book, only(cm.NUMBERS))
    assert d.status == "matched" and d.allocations == [(46, D("50.00")), (45, D("100.00"))]


def test_numbers_in_text_with_another_amount_are_a_suggestion_unless_told_otherwise():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "50.00"), inv(47, 1, "20.00", days=-9))
    d = cm.decide(line("130.00", "INV-2026-000046"), book, only(cm.NUMBERS))
    assert d.status == "suggested" and d.allocations == [(46, D("50.00")), (47, D("20.00")), (45, D("60.00"))]
    assert d.suggestion()["invoice_ids"] == [46, 47, 45] and "owing 50.00" in d.reason
    bold = cm.decide(line("130.00", "INV-2026-000046"), book, only(cm.NUMBERS, exact_amount_only=False))
    assert bold.status == "matched" and bold.allocations == d.allocations


def test_order_numbers_name_their_invoices():
    book = items(inv(45, 1, "100.00", order="SO-2026-000900"), inv(46, 1, "50.00", order="SO-2026-000900"))
    d = cm.decide(line("150.00", "order SO2026000900"), book, only(cm.NUMBERS))
    assert d.status == "matched" and sorted(d.invoice_ids) == [45, 46]


def test_numbers_of_two_customers_are_a_suggestion():
    book = items(inv(45, 1, "100.00"), inv(46, 2, "50.00"))
    d = cm.decide(line("150.00", "INV-2026-000045 INV-2026-000046"), book, only(cm.NUMBERS))
    assert d.status == "suggested" and d.customer_id is None


def test_iban_finds_the_customer_then_the_invoice_owing_exactly_the_amount():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "50.00", days=-3), ibans={IBAN_A: 1})
    d = cm.decide(line("100.00", iban=IBAN_A), book, only(cm.IBAN))
    assert d.status == "matched" and d.allocations == [(45, D("100.00"))]
    # Covering everything open: all paid, the rest is credit.
    d = cm.decide(line("170.00", iban=IBAN_A), book, only(cm.IBAN))
    assert d.status == "matched" and d.allocations == [(46, D("50.00")), (45, D("100.00"))]
    # Less than all, no equal balance: oldest first, as a suggestion (or posted when told).
    d = cm.decide(line("60.00", iban=IBAN_A), book, only(cm.IBAN))
    assert d.status == "suggested" and d.allocations == [(46, D("50.00")), (45, D("10.00"))]
    assert cm.decide(line("60.00", iban=IBAN_A), book, only(cm.IBAN, otherwise="post")).status == "matched"
    # An unknown IBAN says nothing.
    assert cm.decide(line("100.00", iban=IBAN_B), book, only(cm.IBAN)).status == "unmatched"


def test_iban_with_two_invoices_owing_the_amount_is_a_suggestion():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "100.00"), ibans={IBAN_A: 1})
    d = cm.decide(line("100.00", iban=IBAN_A), book, only(cm.IBAN))
    assert d.status == "suggested" and "2 open invoices" in d.reason


def test_amount_within_tolerance_writes_off_a_bank_fee_or_leaves_it_open():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "300.00"), names={1: "Rossi S.p.A.", 2: "Bianchi"})
    d = cm.decide(line("98.50", name="ROSSI SPA"), book, only(cm.AMOUNT))
    assert d.status == "unmatched"  # "ROSSI SPA" is not "rossi s p a"
    d = cm.decide(line("98.50", name="Rossi S.p.A."), book, only(cm.AMOUNT))
    assert (d.status, d.allocations, d.write_off, d.write_off_account) == (
        "matched", [(45, D("100.00"))], D("1.50"), "6800")
    d = cm.decide(line("98.50", name="Rossi S.p.A."), book, only(cm.AMOUNT, difference="leave_open"))
    assert (d.status, d.allocations, d.write_off) == ("matched", [(45, D("98.50"))], D("0"))
    assert cm.decide(line("97.00", name="Rossi S.p.A."), book, only(cm.AMOUNT)).status == "unmatched"
    over = cm.decide(line("101.00", name="Rossi S.p.A."), book, only(cm.AMOUNT))
    assert over.status == "matched" and over.allocations == [(45, D("100.00"))] and over.write_off == 0


def test_outgoing_lines_match_refunds():
    refunds = (cm.OpenRefund(7, "RF-2026-000007", 1, D("25.00")), cm.OpenRefund(8, "RF-2026-000008", 2, D("25.00")))
    book = items(ibans={IBAN_A: 1}, refunds=refunds)
    assert cm.decide(line("-25.00", "RF-2026-000008"), book, RULES).refund_id == 8
    d = cm.decide(line("-25.00", iban=IBAN_A), book, RULES)
    assert (d.status, d.refund_id) == ("matched", 7)
    assert cm.decide(line("-25.00"), book, RULES).status == "suggested"
    assert cm.decide(line("-13.00"), book, RULES).status == "unmatched"


# -- in combination ------------------------------------------------------------------

def test_first_decisive_rule_wins_and_a_suggestion_lets_later_rules_try():
    book = items(inv(45, 1, "100.00"), inv(46, 1, "60.00"), ibans={IBAN_A: 1})
    # The reference names 45; the IBAN alone would have chosen 46 (exact amount).
    d = cm.decide(line("60.00", creditor_reference("INV-2026-000045"), iban=IBAN_A), book, RULES)
    assert d.rule == cm.REFERENCE and d.allocations == [(45, D("60.00"))]
    # Switched off, the reference is not read: the IBAN rule decides.
    off = [replace(r, enabled=r.name != cm.REFERENCE) for r in RULES]
    assert cm.decide(line("60.00", creditor_reference("INV-2026-000045"), iban=IBAN_A), book, off).allocations \
        == [(46, D("60.00"))]
    # The number rule only suggests (amount differs); the tolerance rule decides.
    d = cm.decide(line("99.00", "INV-2026-000046", iban=IBAN_A), book, RULES)
    assert (d.rule, d.allocations, d.write_off) == (cm.AMOUNT, [(45, D("100.00"))], D("1.00"))
    # Reordered: tolerance before numbers.
    order = [RULES[4], RULES[2], RULES[1], RULES[3]]
    assert cm.decide(line("99.00", "INV-2026-000046", iban=IBAN_A), book, order).rule == cm.AMOUNT


def test_nothing_known_is_unmatched_with_a_reason():
    d = cm.decide(line("42.00", "thanks"), items(inv(45, 1, "100.00")), RULES)
    assert d.status == "unmatched" and d.reason


# -- the property ------------------------------------------------------------------

def _typo(text: str, rnd: random.Random) -> str:
    i = rnd.randrange(len(text) - 1)
    if rnd.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    digit = rnd.choice([c for c in "0123456789" if c != text[i]])
    return text[:i] + digit + text[i + 1:]


def statement(seed: int, n_customers: int, n_invoices: int) -> tuple[list[cm.OpenInvoice], dict[str, int],
                                                                         dict[int, str], list[tuple[cm.LineFacts, set[int]]]]:
    """Invoices of a few customers and lines paying them: by reference,
    by number, by IBAN, by name; whole, split, several at once, rounded, with
    typos. Each line comes with the invoices it came from.

    The tolerance rule cannot tell a partial payment from the full payment of
    another invoice owing within the tolerance of it; that coincidence is
    left out (no two amounts within 5.00 of each other, the parts of split
    payments and the rest they leave owing included)."""
    rnd = random.Random(seed)
    ibans = {f"DE{10 + c:02d}3704004405320130{c:02d}": c for c in range(1, n_customers + 1)}
    iban_of = {c: i for i, c in ibans.items()}
    names = {c: f"Customer {c} GmbH" for c in range(1, n_customers + 1)}
    used: set[D] = set()
    invoices = []
    for i in range(1, n_invoices + 1):
        amount = D(rnd.randrange(1000, 500000)) / 100
        while any(abs(amount - u) <= 5 for u in used):
            amount = D(rnd.randrange(1000, 500000)) / 100
        used.add(amount)
        invoices.append(inv(i, rnd.randrange(1, n_customers + 1), str(amount), days=rnd.randrange(60)))
    pool = list(invoices)
    rnd.shuffle(pool)
    lines: list[tuple[cm.LineFacts, set[int]]] = []
    while pool:
        shape = rnd.choice(["whole", "whole", "split", "merged", "rounded"])
        first = pool.pop()
        group = [first]
        if shape == "merged":
            group += [i for i in pool if i.customer_id == first.customer_id][:rnd.randrange(1, 3)]
            for g in group[1:]:
                pool.remove(g)
        parts = [sum((g.balance for g in group), D(0))]
        if len(group) > 1 and any(abs(parts[0] - u) <= 5 for u in used):
            pool.extend(group[1:])  # the sum is another invoice's amount: paid one by one instead
            group, parts = [first], [first.balance]
        if shape == "split":
            for _ in range(100):
                cut = (first.balance * D(rnd.randrange(20, 80)) / 100).quantize(D("0.01"))
                if not any(abs(p - u) <= 5 for p in (cut, first.balance - cut) for u in used):
                    parts = [cut, first.balance - cut]
                    break
        if shape == "rounded":
            parts = [parts[0] + D(rnd.choice([-150, -99, -1, 1, 50])) / 100]
        # A part paid leaves the rest of its invoice owing: later amounts keep
        # clear of it too (of every amount a line carries).
        used.update(parts)
        how = rnd.choice(["reference", "number", "iban", "name", "nothing"])
        for amount in parts:
            if how == "reference":
                text = " ".join(grouped(creditor_reference(g.number)) for g in group)
            elif how == "number":
                text = " ".join(rnd.choice([g.number, g.number.replace("-", ""), g.number.replace("-", " ")])
                                for g in group)
            else:
                text = "Payment"
            if text != "Payment" and rnd.random() < 0.3:
                text = _typo(text, rnd)
            payer_iban = iban_of[first.customer_id] if how in ("iban", "reference", "number") else ""
            payer = names[first.customer_id] if how == "name" else "Someone"
            lines.append((cm.LineFacts(amount, DAY, payer, payer_iban, text), {g.id for g in group}))
    rnd.shuffle(lines)
    return invoices, ibans, names, lines


def run(invoices, ibans, names, lines, rules=RULES) -> list[tuple[cm.Decision, set[int]]]:
    book = cm.OpenItems([replace(i) for i in invoices], ibans, names)
    out = []
    for facts, origin in lines:
        d = cm.decide(facts, book, rules)
        if d.status == "matched":
            book.settle(d.allocations, d.write_off)
        out.append((d, origin))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**9), n_customers=st.integers(1, 6), n_invoices=st.integers(1, 30))
def test_every_line_lands_on_its_own_invoices_or_in_the_worklist(seed, n_customers, n_invoices):
    invoices, ibans, names, lines = statement(seed, n_customers, n_invoices)
    customer = {i.id: i.customer_id for i in invoices}
    for d, origin in run(invoices, ibans, names, lines):
        if d.status != "matched":
            continue
        assert d.customer_id == customer[next(iter(origin))]
        # Money goes to the invoices the line came from; other invoices of the
        # customer only when the line pays everything the customer owes.
        stray = set(d.invoice_ids) - origin
        assert not stray or d.rule == cm.IBAN and "covers everything" in d.reason, (d, origin)


def test_match_rates_on_generated_statements(capsys):
    """Figures, not a threshold: how many generated lines each rule decides."""
    total: Counter[str] = Counter()
    for seed in range(200):
        for d, _ in run(*statement(seed, 5, 25)):
            total[d.status if d.status != "matched" else f"matched:{d.rule}"] += 1
    n = sum(total.values())
    matched = sum(v for k, v in total.items() if k.startswith("matched"))
    with capsys.disabled():
        print(f"\ncash application on {n} generated lines: matched {matched / n:.1%} "
              + ", ".join(f"{k} {v / n:.1%}" for k, v in sorted(total.items())))
    assert matched / n > 0.5
