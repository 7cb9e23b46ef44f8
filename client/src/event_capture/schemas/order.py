"""Orders with their line items."""

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from event_capture.schemas.currencies import ISO_4217
from event_capture.schemas.envelope import EventEnvelope, Identifier

# Money is exact: floats would make "total equals the sum of line items" checks lie. JSON numbers
# and decimal strings are both accepted; at most 3 decimals covers every ISO 4217 currency.
Money = Annotated[
    Decimal, Field(strict=False, ge=0, le=Decimal("10000000"), max_digits=13, decimal_places=3)
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
