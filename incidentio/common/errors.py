class ServiceError(Exception):
    """A rule refused the change; nothing was written. ``str(error)`` is for the user.

    ``field`` names the form or API field at fault, when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def add_service_error(form, error: ServiceError) -> None:
    """Show a service's refusal on the form field it names, or on the whole form."""
    form.add_error(error.field if error.field in form.fields else None, str(error))
