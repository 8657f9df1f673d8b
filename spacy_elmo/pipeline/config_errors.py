"""Errors in an ELMo setting that spaCy's commands print as one line."""

from typing import Any, Tuple

from confection import ConfigValidationError

from ..errors import ElmoFormatError


class ElmoConfigError(ElmoFormatError, ConfigValidationError):
    """A setting of an ELMo component or layer that cannot work (its weights, its
    width). `spacy train` prints it as one line, without a traceback, as it prints
    its own config errors.

    message (str): What is wrong and how to set it right.
    """

    def __init__(self, message: str = "", **config_error: Any) -> None:
        # spaCy rebuilds the error through ConfigValidationError.from_error, which
        # passes the base class's keyword arguments.
        settings = {"title": message, "errors": [], "show_config": False, **config_error}
        ConfigValidationError.__init__(self, **settings)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Tuple[Any, Tuple[str]]:
        # Picklable (e.g. from nlp.pipe(n_process=...) workers) by its message alone.
        return (type(self), (self.message,))
