"""Exceptions raised by spacy-elmo."""


class ElmoFormatError(ValueError):
    """A weights reference, options.json or weights.hdf5 that cannot be used as given.
    The message names the file, the key or dataset, and the expected vs found shape."""


class DownloadError(OSError):
    """A file could not be downloaded completely. Its `.part` file is kept (if any
    bytes arrived), so that the next call resumes where this one stopped."""
