"""Errors shared across kratix-py."""


class CommandError(Exception):
    """A problem the person running a command can fix; shown as one line, never as a traceback."""
