"""Search queries with the app's intent classification.

Intent, its confidence and the result count are the app's own additions to Segment's
``Products Searched``: optional, so that a search sent as the spec defines it is stored (the
report shows them as unknown).
"""

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from event_capture.schemas.envelope import Confidence, DurationMs, EventEnvelope, Label, Scrubbed
from event_capture.schemas.scrub import SCRUBBED_DATA


class SearchFilter(BaseModel):
    """One facet the user narrowed the search by (BigQuery has no map type)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: Label = Field(description="Filter name, e.g. category, brand, max_price.")
    value: Annotated[str, StringConstraints(min_length=1, max_length=256), Scrubbed] = Field(
        description="Filter value as the app sent it, scrubbed as the query is."
    )


class SearchEvent(EventEnvelope):
    TABLE: ClassVar[str] = "searches"
    DESCRIPTION: ClassVar[str] = "Search queries with their intent classification and outcome."

    event_type: Literal["search"] = Field(description="Always 'search'.")
    query: Annotated[str, StringConstraints(min_length=1, max_length=512), Scrubbed] = Field(
        description=f"Query text, scrubbed of {SCRUBBED_DATA}.",
        examples=["organic oat milk 1l"],
    )
    intent: Label | None = Field(
        default=None,
        description="Intent label from the app's classifier, e.g. product_lookup, reorder.",
        examples=["product_lookup"],
    )
    intent_confidence: Confidence | None = Field(
        default=None, description="Classifier confidence, 0 to 1."
    )
    filters: list[SearchFilter] = Field(
        default_factory=list, max_length=20, description="Facets applied to the search."
    )
    result_count: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Number of results returned."
    )
    latency_ms: DurationMs | None = Field(
        default=None, description="Search backend latency seen by the app, in milliseconds."
    )
