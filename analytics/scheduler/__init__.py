"""The proof scheduler: mined candidates to judged decisions inside the service, within budgets (docs/scheduler.md)."""
