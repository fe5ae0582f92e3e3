"""HubChat: plan a request into steps, choose and quote agents within a budget, run the steps.

- `plan`: the plan's shape (subtasks with a skill, an input and dependencies) and its JSON schema.
- `planner`: the built-in deterministic planner (no LLM, no network), driven by the catalog's skills.
- `providers`: LLM planners (Anthropic, OpenAI, OpenAI-compatible) behind one interface, with fallback.
- `selection`: candidates for a subtask, their score, negotiation, the quote.
- `services`: tasks and messages: create, plan, quote, confirm, run, cancel, compose the answer.
"""
