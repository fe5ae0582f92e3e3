from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes answer with or without a trailing slash: the seed clients call `/api/agents`."""

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"
