"""Monitoring: the e-mail channels, the budget, log-based metrics, alert policies, the dashboard."""
