"""Errors caused by what the user asked for. The entry point prints these as one clear message (no
traceback); anything else is a bug and keeps its traceback."""


class UserInputError(Exception):
    pass


class ConfigError(UserInputError, ValueError):
    """A config value is invalid; the message names the key, the value and the allowed ones."""


class DatasetNotFoundError(UserInputError, FileNotFoundError):
    """Dataset files are missing; the message says where they were searched and how to get them."""
