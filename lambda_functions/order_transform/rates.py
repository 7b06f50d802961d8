"""The static currency table: US dollars per one unit of each accepted currency.

Fixed, illustrative rates (rounded mid-market values of early 2026), not market data: the
transform must be pure and deterministic, so the same orders always give the same USD totals.
Changing a rate changes every later run's results; do it in this one place, with a new
``RATES_VERSION`` so stored rows can tell which table produced them.
"""

from decimal import Decimal

RATES_VERSION = "2026-01-static"

USD_PER_UNIT: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CHF": Decimal("1.13"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
    "NZD": Decimal("0.60"),
    "JPY": Decimal("0.0067"),
    "CNY": Decimal("0.14"),
    "INR": Decimal("0.012"),
    "SGD": Decimal("0.74"),
    "SEK": Decimal("0.095"),
    "NOK": Decimal("0.092"),
    "DKK": Decimal("0.145"),
    "PLN": Decimal("0.25"),
    "BRL": Decimal("0.18"),
    "MXN": Decimal("0.055"),
    "ZAR": Decimal("0.054"),
}
