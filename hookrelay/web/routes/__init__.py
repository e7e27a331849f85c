"""One router per resource: webhooks, Tracker's source_commits, health, deliveries."""
