"""Customers: their records, and whose customers a caller may use (API.md,
"Whose customers a webshop may use")."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, exists, insert, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.tax import CUSTOMER_TYPES, country_error, vat_id_error
from o2c.domain.text import audit_snapshot
from o2c.services.platform.uow import Tx

customers = m.Customer.__table__
customer_channels = m.CustomerChannel.__table__

CUSTOMER_FIELDS = (
    "code", "name", "email", "country", "language", "tax_id", "payment_terms_days",
    "credit_limit", "currency", "billing_address", "shipping_address", "customer_type", "invoice_email",
    "send_invoices",
)
VAT_CHECK_STATUSES = ("valid", "invalid", "unchecked")


def _customer_row(row: Any, channels: Iterable[str]) -> dict[str, Any]:
    return {"id": row.id, **{f: getattr(row, f) for f in CUSTOMER_FIELDS}, "channels": sorted(channels),
            "vat_id_check": {"status": row.vat_id_check_status, "checked_on": row.vat_id_checked_on,
                             "reference": row.vat_id_check_reference}}


def check_tax_fields(data: dict[str, Any], stored: dict[str, Any] | None = None) -> None:
    """Country, customer type and VAT id of a customer as saved (``stored``:
    what is on file, for a change): 422 with the fields at fault."""
    merged = {**(stored or {}), **{k: v for k, v in data.items() if v is not None}}
    fields: dict[str, list[str]] = {}
    country = str(merged.get("country") or "")
    for name in ("country",):
        if name in data or stored is None:
            why = country_error(country)
            if why:
                fields[name] = [why]
    for where in ("billing_address", "shipping_address"):
        addr = data.get(where)
        if isinstance(addr, dict) and addr.get("country"):
            why = country_error(str(addr["country"]))
            if why:
                fields[where] = [why]
    ctype = merged.get("customer_type")
    if ctype is not None and ctype not in CUSTOMER_TYPES:
        fields["customer_type"] = [f"One of {', '.join(CUSTOMER_TYPES)}."]
    if "country" not in fields and ("tax_id" in data or "country" in data or stored is None):
        why = vat_id_error(str(merged.get("tax_id") or ""), country)
        if why:
            fields["tax_id"] = [why]
    if fields:
        raise ValidationFailed("Some customer fields are invalid.", fields)


def _vat_check_values(check: dict[str, Any]) -> dict[str, Any]:
    return {"vat_id_check_status": check.get("status") or "unchecked",
            "vat_id_checked_on": check.get("checked_on"), "vat_id_check_reference": check.get("reference")}


def unsaved_customer(data: dict[str, Any]) -> Any:
    """A whole customer as sent, checked but not saved (a preview's)."""
    from types import SimpleNamespace
    check_tax_fields(data)
    return SimpleNamespace(
        id=None, country=data["country"], tax_id=data.get("tax_id") or "",
        customer_type=data.get("customer_type") or ("business" if data.get("tax_id") else "consumer"),
        vat_id_check_status="unchecked", billing_address=data.get("billing_address") or {},
        shipping_address=data.get("shipping_address"), currency=data.get("currency") or "EUR")


def _channels_of(tx: Tx, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        for r in tx.conn.execute(select(customer_channels.c.customer_id, customer_channels.c.channel)
                                 .where(customer_channels.c.customer_id.in_(ids))):
            found[r.customer_id].append(r.channel)
    return found


def _share(tx: Tx, customer_id: int, channels: Iterable[str]) -> None:
    rows = [{"customer_id": customer_id, "channel": c} for c in sorted(set(channels))]
    if rows:
        tx.conn.execute(insert(customer_channels), rows)


def create_customer(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    """A new customer, shared with the webshop channels in ``channels``."""
    exists_ = tx.conn.execute(select(customers.c.id).where(customers.c.code == data["code"])).scalar()
    if exists_ is not None:
        raise Conflict(f"A customer with code “{data['code']}” already exists.", {"customer_id": exists_})
    check_tax_fields(data)
    values = {f: data[f] for f in CUSTOMER_FIELDS if f in data and data[f] is not None}
    values.setdefault("shipping_address", None)
    values.setdefault("customer_type", "business" if data.get("tax_id") else "consumer")
    if data.get("vat_id_check"):
        values.update(_vat_check_values(data["vat_id_check"]))
    values["created_at"] = tx.now
    cid = tx.conn.execute(insert(customers).returning(customers.c.id), values).scalar_one()
    _share(tx, cid, data.get("channels") or ())
    result = get_customer(tx, cid)
    tx.audit("customer.created", "customer", cid, None, audit_snapshot(result))
    return result


def get_customer(tx: Tx, customer_id: int) -> dict[str, Any]:
    row = tx.conn.execute(select(customers).where(customers.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"No customer with id {customer_id}.")
    return _customer_row(row, _channels_of(tx, [row.id])[row.id])


def update_customer(tx: Tx, customer_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change what ``data`` names; ``channels`` replaces the list of channels."""
    before = get_customer(tx, customer_id)
    check_tax_fields(data, before)
    values = {f: data[f] for f in CUSTOMER_FIELDS if f in data and f != "code"}
    if values.get("customer_type") is None:
        values.pop("customer_type", None)
    if data.get("vat_id_check"):
        values.update(_vat_check_values(data["vat_id_check"]))
    elif "tax_id" in data and data["tax_id"] != before["tax_id"]:
        # A new VAT id has not been checked yet.
        values.update(_vat_check_values({}))
    if "code" in data and data["code"] != before["code"]:
        taken = tx.conn.execute(select(customers.c.id).where(customers.c.code == data["code"])).scalar()
        if taken is not None:
            raise Conflict(f"A customer with code “{data['code']}” already exists.", {"customer_id": taken})
        values["code"] = data["code"]
    if values:
        tx.conn.execute(update(customers).where(customers.c.id == customer_id).values(**values))
    if "channels" in data and sorted(set(data["channels"])) != before["channels"]:
        tx.conn.execute(delete(customer_channels).where(customer_channels.c.customer_id == customer_id))
        _share(tx, customer_id, data["channels"])
    after = get_customer(tx, customer_id)
    tx.audit("customer.updated", "customer", customer_id, audit_snapshot(before), audit_snapshot(after))
    return after


def list_customers(tx: Tx, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    q = select(customers).order_by(customers.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        q = q.where(customers.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    channels = _channels_of(tx, [r.id for r in page])
    items = [_customer_row(r, channels[r.id]) for r in page]
    return items, (rows[limit - 1].id if len(rows) > limit else None)


# -- whose customers a caller may use ---------------------------------------------
#
# One rule (API.md, "Whose customers a webshop may use"), for every service
# that takes a customer reference: a webshop key may use the customers shared
# with its channel (those it created inline among them); back-office callers
# may use every customer. A customer out of reach is answered exactly as one
# that does not exist: these functions never tell the two apart.

def customer_scope(principal: Principal) -> ColumnElement[bool] | None:
    """The condition on ``customers`` a principal's references must meet, or
    ``None`` when every customer is in reach."""
    channel = principal.channel_scope
    if channel is None:
        return None
    return exists().where(customer_channels.c.customer_id == customers.c.id,
                          customer_channels.c.channel == channel)


def find_customer(tx: Tx, principal: Principal, ref: dict[str, Any]) -> Row[Any] | None:
    """The customer ``{"id": …}`` or ``{"code": …}`` names, if this principal
    may use it; ``None`` when there is none or it is out of reach (the same)."""
    cond = customers.c.id == ref["id"] if ref.get("id") is not None else customers.c.code == ref["code"]
    scope = customer_scope(principal)
    q = select(customers).where(cond)
    if scope is not None:
        q = q.where(scope)
    return tx.conn.execute(q).first()


def may_use_customer(tx: Tx, principal: Principal, customer_id: int) -> bool:
    """Whether a filter such as ``?customer_id=`` names a customer this
    principal may use (lists answer an empty page when it does not)."""
    return find_customer(tx, principal, {"id": customer_id}) is not None


def _unknown_customer(ref: dict[str, Any]) -> ValidationFailed:
    # Only what the caller sent decides the wording: "out of reach" and
    # "missing" must read the same.
    by = "id" if ref.get("id") is not None else "code"
    return ValidationFailed("Unknown customer.", {"customer": {by: [f"No customer with this {by}."]}})


def _same(sent: Any, stored: Any) -> bool:
    if isinstance(sent, dict) or isinstance(stored, dict):
        sent, stored = sent or {}, stored or {}
        keys = set(sent) | set(stored)
        return all((sent.get(k) or None) == (stored.get(k) or None) for k in keys)
    return bool(sent == stored)


def resolve_customer(tx: Tx, principal: Principal, ref: dict[str, Any]) -> Row[Any]:
    """The customer an order (quotation, preview…) refers to: ``{"id": …}``,
    ``{"code": …}``, or a whole new customer, which is created (a webshop's
    shared with its channel).

    A whole customer whose code exists is that customer only if the caller may
    use it and every detail sent matches what is on file; otherwise 409
    ``conflict`` — naming the existing customer (id and the fields that
    differ) only to a caller who may use it, and nothing at all to others."""
    if ref.get("name") is None:
        row = find_customer(tx, principal, ref)
        if row is None:
            raise _unknown_customer(ref)
        return row
    sent = {k: v for k, v in ref.items() if v is not None}
    if "code" in sent:
        existing = tx.conn.execute(select(customers.c.id).where(customers.c.code == sent["code"])).scalar()
        if existing is not None:
            row = find_customer(tx, principal, {"id": existing})
            if row is None:
                raise Conflict(f"The customer code “{sent['code']}” is taken; send another code for a new "
                               "customer.", {})
            differ = sorted(f for f in CUSTOMER_FIELDS if f in sent and not _same(sent[f], getattr(row, f)))
            if differ:
                raise Conflict(
                    f"Customer “{sent['code']}” exists with other {', '.join(differ)}; refer to it as "
                    '{"id": …} (with the order\'s shipping_address), or correct the customer first.',
                    {"customer_id": row.id, "fields": differ})
            return row
    sent.setdefault("code", f"C-{tx.now:%y%m%d%H%M%S%f}")
    channel = principal.channel_scope
    created = create_customer(tx, {**sent, "channels": [channel] if channel is not None else []})
    return tx.conn.execute(select(customers).where(customers.c.id == created["id"])).one()
