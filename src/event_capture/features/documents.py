"""A nightly snapshot as Redis holds it: one JSON document per user and per product.

Built from the four feature tables of one ``snapshot_date`` (the rows as google-cloud-bigquery
returns them). The models are the answer's own (``event_capture.schemas.features``), so a
column that reaches Redis is one the features function can serve.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from event_capture.schemas.features import Profile, Recommendation, SimilarProduct

Rows = Iterable[Mapping[str, Any]]


class ReorderHistory(BaseModel):
    """A row of ``reorder_predictions`` without what the clock changes (served live)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    orders: int
    last_ordered_on: date
    mean_interval_days: float


class UserDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    profile: Profile | None = None
    reorder: list[ReorderHistory] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)


class ProductDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    similar: list[SimilarProduct] = Field(default_factory=list)


@dataclass(frozen=True)
class Snapshot:
    snapshot_date: date
    users: dict[str, str]  # user_id to its UserDocument JSON
    products: dict[str, str]  # product_id to its ProductDocument JSON

    @property
    def id(self) -> str:
        """``<snapshot_date>.<digest>``: the same content is the same id, so a second load of
        the same snapshot finds it current and writes nothing."""
        digest = hashlib.sha256()
        for kind, documents in (("users", self.users), ("products", self.products)):
            for key in sorted(documents):
                digest.update(f"{kind}\0{key}\0{documents[key]}\n".encode())
        return f"{self.snapshot_date.isoformat()}.{digest.hexdigest()[:16]}"


def build_snapshot(
    snapshot_date: date,
    *,
    user_profiles: Rows,
    reorder_predictions: Rows,
    user_recommendations: Rows,
    product_recommendations: Rows,
) -> Snapshot:
    profiles: dict[str, Profile] = {}
    reorder: dict[str, list[ReorderHistory]] = {}
    recommended: dict[str, list[Recommendation]] = {}
    similar: dict[str, list[SimilarProduct]] = {}
    for row in user_profiles:
        profiles[row["user_id"]] = Profile.model_validate(dict(row))
    for row in reorder_predictions:
        reorder.setdefault(row["user_id"], []).append(ReorderHistory.model_validate(dict(row)))
    for row in user_recommendations:
        recommended.setdefault(row["user_id"], []).append(Recommendation.model_validate(dict(row)))
    for row in product_recommendations:
        similar.setdefault(row["product_id"], []).append(
            SimilarProduct(
                product_id=row["recommended_product_id"],
                co_occurrences=row["co_occurrences"],
                rank=row["rank"],
            )
        )
    users = {
        user_id: UserDocument(
            profile=profiles.get(user_id),
            reorder=sorted(reorder.get(user_id, []), key=lambda r: r.product_id),
            recommendations=sorted(recommended.get(user_id, []), key=lambda r: r.rank),
        ).model_dump_json(exclude_defaults=True)
        for user_id in sorted({*profiles, *reorder, *recommended})
    }
    products = {
        product_id: ProductDocument(similar=sorted(items, key=lambda s: s.rank)).model_dump_json()
        for product_id, items in sorted(similar.items())
    }
    return Snapshot(snapshot_date, users, products)
