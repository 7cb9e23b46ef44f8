"""The e-mail notification channels, one per ``alertEmails`` address.

The budget and every alert policy notify the same channels.
"""

import pulumi
import pulumi_gcp as gcp


def email_channels(
    *, project: str, emails: tuple[str, ...], opts: pulumi.ResourceOptions
) -> list[gcp.monitoring.NotificationChannel]:
    return [
        gcp.monitoring.NotificationChannel(
            f"alert-email-{i}",
            project=project,
            type="email",
            display_name=f"Event capture alerts: {email}",
            labels={"email_address": email},
            opts=opts,
        )
        for i, email in enumerate(emails)
    ]
