"""Event names of Segment's V2 ecommerce spec (segmentio/segment-docs
``src/connections/spec/ecommerce/v2.md``): the only event names the collector's log may carry.

An event name is client input: one outside this fixed list is logged as "other".
"""

SPEC_EVENT_NAMES = frozenset(
    {
        "Products Searched",
        "Product List Viewed",
        "Product List Filtered",
        "Product Clicked",
        "Product Viewed",
        "Product Added",
        "Product Removed",
        "Cart Viewed",
        "Checkout Started",
        "Checkout Step Viewed",
        "Checkout Step Completed",
        "Payment Info Entered",
        "Order Completed",
        "Order Updated",
        "Order Refunded",
        "Order Cancelled",
        "Promotion Viewed",
        "Promotion Clicked",
        "Coupon Entered",
        "Coupon Applied",
        "Coupon Denied",
        "Coupon Removed",
        "Product Added to Wishlist",
        "Product Removed from Wishlist",
        "Wishlist Product Added to Cart",
        "Product Shared",
        "Cart Shared",
        "Product Reviewed",
    }
)

OTHER = "other"


def loggable_name(name: object) -> str:
    return name if isinstance(name, str) and name in SPEC_EVENT_NAMES else OTHER
