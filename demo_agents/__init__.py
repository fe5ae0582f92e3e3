"""The demo agents AgentHub ships: hosted packages and HTTP services, called through the real transports."""
