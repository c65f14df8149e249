"""Signed webhooks: an org's endpoints receive its incident and learning-task events."""
