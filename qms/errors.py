"""Domain errors. Services raise these with a message meant for the user; the web error
handler turns them into a flashed message or an error page, the CLI into a clean exit."""


class QmsError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class ValidationError(QmsError):
    """The input breaks a rule; nothing was changed."""

    status_code = 400


class Forbidden(QmsError):
    status_code = 403


class NotFound(QmsError):
    status_code = 404


class Conflict(QmsError):
    """The record changed under us (already done, duplicate code, ...)."""

    status_code = 409
