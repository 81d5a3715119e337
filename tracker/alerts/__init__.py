"""Alerts: each change of accepted state delivered once to each channel (docs/alerts.md).

``changes`` (pure) finds the changes in the log, ``outbox`` (pure) what each channel still
has to receive, ``channels`` sends (webhook, email, digest) with retries, and ``service``
is the application layer the CLI and the scheduled job call.
"""
