from django import template

from catalog.prices import currency, format_price

register = template.Library()


@register.filter
def money(amount) -> str:
    """A price in the shop's currency; empty for no price."""
    if amount is None or amount == "":
        return ""
    return format_price(amount)


@register.simple_tag
def currency_code() -> str:
    return currency()
