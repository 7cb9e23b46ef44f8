"""Orders with their line items."""

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from event_capture.schemas.currencies import ISO_4217
from event_capture.schemas.envelope import EventEnvelope, Identifier

# A plain decimal in ASCII digits. Python's Decimal also reads "5_000", " 5 ", "1e3", "NaN" and
# the digits of every script (U+0665, Arabic-Indic five, is 5); a shop system that sends one of
# those has a bug to find, and the number it meant is a guess.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _plain_decimal(value: Any) -> Any:
    if isinstance(value, bool) or (
        isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value) is None
    ):
        raise PydanticCustomError(
            "decimal_format", 'must be a JSON number or a decimal string such as "12.50"'
        )
    return value


# Money is exact: floats would make "total equals the sum of line items" checks lie. JSON numbers
# and decimal strings are both accepted; at most 3 decimals covers every ISO 4217 currency.
Money = Annotated[
    Decimal,
    Field(strict=False, ge=0, le=Decimal("10000000"), max_digits=13, decimal_places=3),
    # After the Field, so it wraps the constrained decimal and the JSON schema stays the same.
    BeforeValidator(_plain_decimal),
]


class LineItem(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    product_id: Identifier = Field(description="Catalogue product id.", examples=["sku_18842"])
    quantity: int = Field(ge=1, le=1_000, description="Units ordered.")
    unit_price: Money = Field(description="Price of one unit in the order currency.")


class OrderEvent(EventEnvelope):
    TABLE: ClassVar[str] = "orders"
    DESCRIPTION: ClassVar[str] = "Placed orders with their line items."

    event_type: Literal["order_placed"] = Field(description="Always 'order_placed'.")
    order_id: Identifier = Field(description="The shop's order id.", examples=["ord_2026_000123"])
    items: list[LineItem] = Field(min_length=1, max_length=200, description="Line items.")
    total: Money = Field(description="Amount charged, in the order currency.")
    currency: str = Field(description="ISO 4217 currency code.", examples=["EUR"])

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise PydanticCustomError("currency_code", "must be an ISO 4217 currency code")
        return value
