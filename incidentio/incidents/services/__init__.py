"""Writes and workflows of the incident core, one module per subdomain.

Every public function is keyword-only, runs in one transaction, writes its
timeline event(s) in that transaction, and raises ``ServiceError`` having
written nothing when a rule refuses the change. The dashboard, the API and
Slack all call these; none of them re-implements a rule.
"""
