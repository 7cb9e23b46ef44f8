"""A request to forget a user, as the app files it in the forget bucket (``contracts.forget``
says where, and what becomes of it)."""

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ForgetRequest(BaseModel):
    """What the app (or the operators' tool) files: ``{"user_id": "u-123", "suppress": true}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: str = Field(min_length=1, max_length=256, description="The user to forget.")
    suppress: bool = Field(
        False,
        description="Also drop the user's later events at capture and the collector (an "
        "objection, not only an erasure).",
    )
    lift_suppression: bool = Field(
        False, description="Accept the user's events again; nothing is deleted."
    )
    erase_now: bool = Field(
        False,
        description="Erase at the next run rather than with the week's batch "
        "(FORGET_BATCH_HOURS): each erasure reads the user-level tables whole, so the "
        "operators' tool asks for it and the app's flow should leave it out.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> "ForgetRequest":
        if self.suppress and self.lift_suppression:
            raise ValueError("suppress and lift_suppression: at most one may be true")
        return self


def parse_request(data: bytes) -> ForgetRequest:
    return ForgetRequest.model_validate_json(data)
