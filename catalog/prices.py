"""Prices as a person reads them: in the shop's currency (the CURRENCY setting), with the active language's
digit grouping. The API keeps the plain decimal string and names the currency beside it."""

from decimal import Decimal

from django.conf import settings
from django.utils.formats import number_format

# Currencies written with a symbol before the amount; any other is written as its code after it ("1,299 SEK").
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩", "ILS": "₪"}


def currency() -> str:
    return settings.CURRENCY


def format_price(amount: Decimal | int | float, *, currency_code: str | None = None) -> str:
    """``€1,299`` for a whole amount, ``€19.99`` otherwise."""
    code = currency_code or currency()
    amount = Decimal(amount)
    places = 0 if amount == amount.to_integral_value() else 2
    number = number_format(amount, decimal_pos=places, force_grouping=True)
    symbol = SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number}\N{NO-BREAK SPACE}{code}"
