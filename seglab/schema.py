"""The canonical tables every seglab stage works on, and how source columns map onto them."""

from __future__ import annotations

#: Transactions: one row per order line. ``amount`` is the money the customer paid for
#: the line (after any discount); ``discount`` is the money taken off that line; ``cost``
#: is the cost of goods of the whole line. Returns are lines with negative quantity and
#: amount. Kinds: ``id`` (string, leading zeros kept), ``date``, ``number``, ``text``.
TRANSACTION_COLUMNS: dict[str, str] = {
    "customer_id": "id",
    "order_date": "date",
    "amount": "number",
    "quantity": "number",
    "unit_price": "number",
    "order_id": "id",
    "product_id": "id",
    "product_name": "text",
    "category": "text",
    "channel": "text",
    "store": "text",
    "region": "text",
    "country": "text",
    "discount": "number",
    "cost": "number",
}

#: Columns a transactions table must have; ``amount`` may instead be derived as
#: ``quantity * unit_price``.
REQUIRED_TRANSACTION_COLUMNS: tuple[str, ...] = ("customer_id", "order_date")

#: Customers: one row per customer, optional attributes for demographic and
#: geographic bases. ``contact_consent`` is the accessibility signal (may we reach them).
CUSTOMER_COLUMNS: dict[str, str] = {
    "customer_id": "id",
    "signup_date": "date",
    "birth_year": "number",
    "age": "number",
    "gender": "text",
    "region": "text",
    "city": "text",
    "city_tier": "text",
    "contact_consent": "bool",
}

REQUIRED_CUSTOMER_COLUMNS: tuple[str, ...] = ("customer_id",)
