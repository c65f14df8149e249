"""The learning flow's writes, one module per concern:

- ``rules``: which closed incidents enter the flow (lifecycle rules).
- ``flow``: entering, advancing (exactly once), opting out.
- ``tasks``: people completing, skipping, reopening and assigning tasks.
- ``autocomplete``: tasks completing themselves when their event happens.
- ``configuration``: the org's task templates and rules, edited by admins.
"""
