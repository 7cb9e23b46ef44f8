"""Cost alerts: a monthly budget on the project, e-mailed and published to Pub/Sub.

The budget only alerts; it never stops spending. Pub/Sub carries every update for whoever
wants to act on it programmatically (for example cap ``functionMaxInstances``).
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.cost import prices
from event_capture.cost.flood import FLOOD_SHARE, FloodDay
from infra.apis import after
from infra.settings import Settings

# (fraction of the budget, basis): early warning, nearly spent, spent, and on course to be.
THRESHOLDS = (
    (0.5, "CURRENT_SPEND"),
    (0.9, "CURRENT_SPEND"),
    (1.0, "CURRENT_SPEND"),
    (1.0, "FORECASTED_SPEND"),
)
# Cloud Billing publishes budget updates as this Google-managed account.
BUDGET_PUBLISHER = "serviceAccount:billing-budget-alert@system.gserviceaccount.com"


@dataclass(frozen=True, kw_only=True)
class BudgetAlertsArgs:
    project: str
    billing_account: str
    amount: int
    currency: str
    # The e-mail channels (``channels.py``), shared with the alert policies.
    channels: list[gcp.monitoring.NotificationChannel]
    labels: dict[str, str]


class BudgetAlerts(pulumi.ComponentResource):
    budget: gcp.billing.Budget
    topic: gcp.pubsub.Topic

    def __init__(
        self,
        name: str,
        args: BudgetAlertsArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:cost:BudgetAlerts", name, None, opts)
        child = after(apis, self)
        self.topic = gcp.pubsub.Topic(
            "budget-alerts", project=args.project, labels=args.labels, opts=child
        )
        publisher = gcp.pubsub.TopicIAMMember(
            "billing-publishes-budget-alerts",
            project=args.project,
            topic=self.topic.name,
            role="roles/pubsub.publisher",
            member=BUDGET_PUBLISHER,
            opts=child,
        )
        # The budget filter wants the project number, not its id.
        project = gcp.organizations.get_project_output(project_id=args.project)
        self.budget = gcp.billing.Budget(
            "monthly-budget",
            billing_account=args.billing_account,
            display_name=f"Event capture ({args.project})",
            budget_filter=gcp.billing.BudgetBudgetFilterArgs(
                projects=[project.number.apply(lambda number: f"projects/{number}")],
                calendar_period="MONTH",
            ),
            amount=gcp.billing.BudgetAmountArgs(
                specified_amount=gcp.billing.BudgetAmountSpecifiedAmountArgs(
                    currency_code=args.currency, units=str(args.amount)
                )
            ),
            threshold_rules=[
                gcp.billing.BudgetThresholdRuleArgs(threshold_percent=share, spend_basis=basis)
                for share, basis in THRESHOLDS
            ],
            all_updates_rule=gcp.billing.BudgetAllUpdatesRuleArgs(
                monitoring_notification_channels=[channel.id for channel in args.channels],
                pubsub_topic=self.topic.id,
                # Billing admins still get the e-mail too, unless they opt out in the console.
                disable_default_iam_recipients=False,
            ),
            opts=child.merge(pulumi.ResourceOptions(depends_on=[publisher])),
        )
        self.register_outputs({"topic": self.topic.id})


def fixed_monthly_usd(settings: Settings) -> float:
    """What the stack costs each month whatever capture does: Memorystore (1 GB) and the VPC
    connector with online features, at the cost model's (unconfirmed) prices; else 0."""
    if not settings.redis_enabled:
        return 0.0
    hours = prices.HOURS_PER_MONTH
    redis = prices.MEMORYSTORE_BASIC.usd_per_unit * hours
    connector = prices.VPC_CONNECTOR_INSTANCE.usd_per_unit * prices.VPC_CONNECTOR_INSTANCES * hours
    return redis + connector


def budget_warnings(settings: Settings, flood: FloodDay | None = None) -> list[str]:
    """Settings that make the cost guard act every month, or that let a flood at the
    collector's caps cost more than a tenth of the budget in a day, said at deploy time."""
    warnings = []
    fixed = fixed_monthly_usd(settings)
    threshold = settings.budget_amount * settings.cost_guard_percent / 100
    # The prices are in USD: another currency's budget is not compared.
    usd = settings.budget_currency == "USD"
    if settings.cost_guard_enabled and usd and fixed >= threshold:
        warnings.append(
            f"budgetAmount {settings.budget_amount} USD is below the fixed cost of the online "
            f"features (Memorystore and the VPC connector, about {fixed:.0f} USD a month at "
            "unconfirmed prices): the cost guard would hold capture archive-only for most of "
            "every month; raise budgetAmount"
        )
    limit = settings.budget_amount * FLOOD_SHARE
    if flood is not None and usd and flood.usd > limit:
        warnings.append(
            f"collectorDailyRequests and collectorDailyEvents let a flood at every client key's "
            f"caps cost about {flood.usd:.2f} USD a day, over a tenth of budgetAmount "
            f"({limit:.2f}); lower them, or leave them empty to size them from the budget"
        )
    return warnings
