"""Links from a device to an account: the anonymous id a device used before its user logged
in, and the user id it belongs to (Segment's ``identify``). Traits are never part of it.

The warehouse and the live features count a linked device's activity as its user's. Only a
trusted sender makes a link: the app's backend, a server key, or a call whose user id the
backend proved (``schemas.user_proof``).
"""

from typing import ClassVar, Literal

from pydantic import Field

from event_capture.schemas.envelope import EventEnvelope, Identifier


class IdentityLink(EventEnvelope):
    TABLE: ClassVar[str] = "identity_links"
    DESCRIPTION: ClassVar[str] = "Devices' anonymous ids linked to the user ids they logged in as."

    event_type: Literal["identify"] = Field(description="Always 'identify'.")
    user_id: Identifier = Field(
        description="The account's pseudonymous id the device is linked to.",
        examples=["u_8f14e45f"],
    )
    anonymous_id: Identifier = Field(
        description="The device's or browser's id before the login.", examples=["a_3b1f9c2e"]
    )
