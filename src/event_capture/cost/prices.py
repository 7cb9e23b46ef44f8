"""Every list price the cost model uses, once, with its free tier, where it was read and when.

USD, US locations (BigQuery's US multi-region, everything else us-central1, the stack's default
region), list prices without discounts. The facts were collected on 2026-12-01 from stored copies
of the vendors' pages (``../shared/research/online-features-and-cost.md``, sections 6 and 7)
and, where that file has none, from transcriptions of the vendor page found the same day; each
entry names its source. ``confirmed`` is False where the figure was inferred or recalled rather
than read: check those against the live pricing pages before quoting them.

Prices change; the live pages are the authority.
"""

from dataclasses import dataclass, replace

GIB = 2**30
TIB = 2**40
MIB = 2**20
# Google's price lists turn hourly rates into monthly ones at 730 hours (Cloud Storage's
# $0.000027397 per GiB-hour is its $0.020 per GiB-month).
HOURS_PER_MONTH = 730
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# When the facts were collected (the research notes' date).
COLLECTED = "2026-12-01"


@dataclass(frozen=True, kw_only=True)
class FreeTier:
    """Units free each month; prices that share one (BigQuery's storage) share its amount."""

    name: str
    amount: float
    scope: str


@dataclass(frozen=True, kw_only=True)
class Price:
    name: str
    usd: float  # for `per` units
    per: float
    unit: str  # one unit of quantity, as the bill prints it
    free: FreeTier | None = None
    source: str
    read: str
    confirmed: bool
    note: str = ""

    @property
    def usd_per_unit(self) -> float:
        return self.usd / self.per

    def with_usd(self, usd: float) -> "Price":
        """The same price at another figure (what-if runs and tests)."""
        return replace(self, usd=usd)


STREAMING_INSERTS = Price(
    name="BigQuery legacy streaming (insertAll)",
    usd=0.05,
    per=1,
    unit="GiB",
    source="cloud.google.com/bigquery/pricing (archived copy; $0.01 per 200 MB) [P]; "
    "help.nops.io (2026, $0.05/GiB) [S]",
    read=COLLECTED,
    confirmed=True,
    note="billed on rows inserted, each at least 1 KB; no free tier",
)
# Each row streamed is billed as at least 1 KB (same sources).
STREAMING_MIN_ROW_BYTES = 1024
WRITE_API = Price(
    name="BigQuery Storage Write API",
    usd=0.025,
    per=1,
    unit="GiB",
    free=FreeTier(
        name="BigQuery Storage Write API, first 2 TiB", amount=2 * 1024, scope="per billing account"
    ),
    source='cloud.google.com/bigquery/docs/write-api ("you can ingest up to 2 TiB per month for '
    'free") [P]; $0.025/GiB: help.nops.io (2026) and notes citing '
    "cloud.google.com/bigquery/pricing#data_ingestion_pricing [S]",
    read="2026-12-07",
    confirmed=True,
    note="billed on the bytes ingested; no per-row minimum is documented (none found, "
    "unconfirmed that none exists)",
)

# One 10 GiB a month for active and long-term storage together.
BIGQUERY_STORAGE_FREE = FreeTier(
    name="BigQuery storage, first 10 GiB", amount=10, scope="per billing account"
)
ACTIVE_STORAGE = Price(
    name="BigQuery active logical storage",
    usd=0.02,
    per=1,
    unit="GiB-month",
    free=BIGQUERY_STORAGE_FREE,
    source="cloud.google.com/bigquery/pricing (archived copy) [P]; coconote summary [S]",
    read=COLLECTED,
    confirmed=True,
)
LONG_TERM_STORAGE = Price(
    name="BigQuery long-term logical storage",
    usd=0.01,
    per=1,
    unit="GiB-month",
    free=BIGQUERY_STORAGE_FREE,
    source="cloud.google.com/bigquery/pricing (archived copy) [P]",
    read=COLLECTED,
    confirmed=True,
    note="a partition unmodified for 90 days: only the aggregates live that long",
)
# Long-term pricing starts once a partition has gone this many days unmodified (same page).
LONG_TERM_AFTER_DAYS = 90

ON_DEMAND_QUERIES = Price(
    name="BigQuery on-demand queries",
    usd=6.25,
    per=1,
    unit="TiB",
    free=FreeTier(name="BigQuery queries, first 1 TiB", amount=1, scope="per billing account"),
    source="coconote summary ($6.25/TiB, the price set in July 2023) [S]; free tier: "
    "cloud.google.com/bigquery/docs/pricing mirror [P]",
    read=COLLECTED,
    confirmed=False,
    note="the exact $6.25 figure was read only in a secondary summary",
)
# Per statement, each table it references is billed at least 10 MB, rounded up to the MB
# (archived pricing page [P]). A DELETE of whole partitions scans nothing (BigQuery release
# notes, 2024-02-27 [P]), so the nightly scripts' DELETEs cost nothing.
QUERY_MIN_BYTES_PER_TABLE = 10 * MIB
QUERY_ROUNDING_BYTES = MIB

_CLOUD_RUN_SOURCE = "cloud.google.com/run/pricing [P]; cloudwebschool, unanswered.io [S]"
_CLOUD_RUN_NOTE = "that Cloud Run functions (gen2) bill at Cloud Run's rates is inferred, not read"
CLOUD_RUN_REQUESTS = Price(
    name="Cloud Run requests",
    usd=0.40,
    per=1_000_000,
    unit="requests",
    free=FreeTier(
        name="Cloud Run, 2 million requests", amount=2_000_000, scope="per billing account"
    ),
    source=_CLOUD_RUN_SOURCE,
    read=COLLECTED,
    confirmed=False,
    note=_CLOUD_RUN_NOTE,
)
CLOUD_RUN_VCPU = Price(
    name="Cloud Run vCPU time (request-based billing)",
    usd=0.000024,
    per=1,
    unit="vCPU-s",
    free=FreeTier(name="Cloud Run, 180,000 vCPU-s", amount=180_000, scope="per billing account"),
    source=_CLOUD_RUN_SOURCE,
    read=COLLECTED,
    confirmed=False,
    note=_CLOUD_RUN_NOTE,
)
CLOUD_RUN_MEMORY = Price(
    name="Cloud Run memory (request-based billing)",
    usd=0.0000025,
    per=1,
    unit="GiB-s",
    free=FreeTier(name="Cloud Run, 360,000 GiB-s", amount=360_000, scope="per billing account"),
    source=_CLOUD_RUN_SOURCE,
    read=COLLECTED,
    confirmed=False,
    note=_CLOUD_RUN_NOTE,
)
# "Cloud Run charges you only for the resources you use, rounded up to the nearest 100
# millisecond"; with concurrency above 1, requests share an instance's CPU and memory
# (cloud.google.com/run/pricing, read again 2026-12-07 [P]). What is rounded is the instance's
# billable time: under request-based billing an instance is billed while it starts, shuts down
# or processes at least one request (cloud.google.com/run/docs/configuring/billing-settings
# [P]; Google's 2019 launch post says the same of "at least one request ... rounded up to the
# nearest 100 milliseconds" [S]). That each busy period, not each request, is rounded is how
# the model reads it; the pages do not say it in those words.
CLOUD_RUN_ROUNDING_SECONDS = 0.1

STANDARD_STORAGE = Price(
    name="Cloud Storage Standard, regional",
    usd=0.020,
    per=1,
    unit="GiB-month",
    free=FreeTier(name="Cloud Storage, 5 GB-months", amount=5, scope="Always Free"),
    source="cloud.google.com/storage/pricing (archived copies) [P]; free tier: "
    "api-evangelist/gcp-cloud-storage transcription of that page, read 2026-09-20 [S]",
    read=COLLECTED,
    confirmed=True,
    note="the Always Free tier holds in some US regions only (recollection: us-central1 among "
    "them); the transcription does not say which",
)
CLASS_A_OPERATIONS = Price(
    name="Cloud Storage Class A operations",
    usd=0.005,
    per=1_000,
    unit="operations",
    free=FreeTier(
        name="Cloud Storage, 5,000 Class A operations", amount=5_000, scope="Always Free"
    ),
    source="api-evangelist/gcp-cloud-storage transcription of cloud.google.com/storage/pricing, "
    "read 2026-09-20 [S]; Benji19967/google-cloud-utils notes [S]",
    read="2026-09-20",
    confirmed=True,
    note="not in the research notes; read in secondary copies of the vendor page only",
)

CLASS_B_OPERATIONS = Price(
    name="Cloud Storage Class B operations",
    usd=0.0004,
    per=1_000,
    unit="operations",
    free=FreeTier(
        name="Cloud Storage, 50,000 Class B operations", amount=50_000, scope="Always Free"
    ),
    source='cloud.google.com/storage/pricing-examples ("50,000 Class B operations * $0.0004 per '
    '1,000"; Class A covers "object adds, bucket and object listings", Class B "object '
    'gets") [P]',
    read="2026-12-07",
    confirmed=True,
    note="the 50,000 free a month is recollection beside the Class A tier's transcription",
)

# Cloud Scheduler bills each job, not its runs: "$0.10/job/31 days"; "each Google billing
# account gets 3 jobs per month free" (cloud.google.com/scheduler/pricing [P]).
SCHEDULER_JOBS = Price(
    name="Cloud Scheduler jobs",
    usd=0.10,
    per=1,
    unit="job-months",
    free=FreeTier(name="Cloud Scheduler, 3 jobs", amount=3, scope="per billing account"),
    source="cloud.google.com/scheduler/pricing [P]",
    read="2026-12-07",
    confirmed=True,
    note="a paused job counts as a job",
)

SECRET_VERSIONS = Price(
    name="Secret Manager active secret versions",
    usd=0.06,
    per=1,
    unit="version-months",
    free=FreeTier(name="Secret Manager, 6 active versions", amount=6, scope="per billing account"),
    source="cloud.google.com/secret-manager/pricing (JA copy) [P]",
    read=COLLECTED,
    confirmed=True,
    note="per version per location; the stack replicates each secret in one region",
)
SECRET_ACCESSES = Price(
    name="Secret Manager access operations",
    usd=0.03,
    per=10_000,
    unit="accesses",
    free=FreeTier(
        name="Secret Manager, 10,000 accesses", amount=10_000, scope="per billing account"
    ),
    source=SECRET_VERSIONS.source,
    read=COLLECTED,
    confirmed=True,
)

CLOUD_LOGGING = Price(
    name="Cloud Logging ingestion",
    usd=0.50,
    per=1,
    unit="GiB",
    free=FreeTier(name="Cloud Logging, 50 GiB", amount=50, scope="per project"),
    source="api-evangelist/google-cloud-logging transcription of "
    "cloud.google.com/stackdriver/pricing, read 2026-09-12 [S]",
    read="2026-09-12",
    confirmed=True,
    note="not in the research notes; includes 30 days of storage",
)

MEMORYSTORE_BASIC = Price(
    name="Memorystore for Redis Basic (M1)",
    usd=0.049,
    per=1,
    unit="GB-hours",
    source="none: recollection (the pricing page was not in the corpus)",
    read=COLLECTED,
    confirmed=False,
    note="about $36 a month for 1 GB, billed while idle",
)
# docs/cost.md ("Online features: what they cost") sizes the connector at 2 e2-micro instances
# at least and puts it at about 10-15 USD a month, without a source.
VPC_CONNECTOR_INSTANCES = 2
VPC_CONNECTOR_INSTANCE = Price(
    name="Serverless VPC Access connector, e2-micro instance",
    usd=0.0084,
    per=1,
    unit="instance-hours",
    source="none: recollection of the e2-micro rate (docs/cost.md says about 10-15 USD a month)",
    read=COLLECTED,
    confirmed=False,
)

ALL = (
    STREAMING_INSERTS,
    WRITE_API,
    ACTIVE_STORAGE,
    LONG_TERM_STORAGE,
    ON_DEMAND_QUERIES,
    STANDARD_STORAGE,
    CLASS_A_OPERATIONS,
    CLASS_B_OPERATIONS,
    SCHEDULER_JOBS,
    CLOUD_RUN_REQUESTS,
    CLOUD_RUN_VCPU,
    CLOUD_RUN_MEMORY,
    CLOUD_LOGGING,
    SECRET_VERSIONS,
    SECRET_ACCESSES,
    MEMORYSTORE_BASIC,
    VPC_CONNECTOR_INSTANCE,
)
