"""The one exception type the command line turns into a one-line message and a non-zero exit."""


class L1adError(Exception):
    """A problem with the user's input (config, data file, model file, name) explained in one line."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (or its type), for one-line error reports."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
