"""Slack listeners, one module per feature. Each acks first, resolves team →
org and Slack user → member (``slackbot.listeners.common``), then calls one
service or queues a task. ``timeline`` is not a Bolt listener: it turns
timeline events into outbox messages."""
