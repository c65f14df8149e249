class ServiceError(Exception):
    """A rule refused the change; nothing was written. ``str(error)`` is for the user.

    ``field`` names the form or API field at fault, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field
