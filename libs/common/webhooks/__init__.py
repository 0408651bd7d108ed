"""Webhook subscriptions (Standard Webhooks), mounted by every service for its own events.

- `subscriptions`: the subscription and its rules (types, region, target, secret), plain Python
- `signing`: the signature of a delivery, and the sealing of secrets at rest
- `tables`, `store`: where subscriptions and failed deliveries are kept
- `manage`: the use cases; `api`: `/v1/webhook-subscriptions`
- `delivery`: the per-subscription JetStream consumers that POST the events
"""
