"""One small tree of errors. Entry points turn these into user-facing messages.

Every message names the bad value and says how to fix it.
"""

from __future__ import annotations


class HoidapError(Exception):
    """Base of every error hoidap raises on purpose."""

    exit_code = 2


class InputError(HoidapError):
    """Bad user input: a question, a path, a filter, an option."""


class QuestionError(InputError):
    """The question is empty, too long or contains control characters."""


class UnsupportedFileError(InputError):
    """A file type hoidap cannot ingest."""


class LoadError(HoidapError):
    """A file could not be read or parsed."""


class EmptyCorpusError(InputError):
    """There is nothing to index."""


class IndexStateError(HoidapError):
    """Base for problems with a saved index folder."""


class IndexNotFoundError(IndexStateError):
    """No index at the given folder."""


class IndexVersionError(IndexStateError):
    """The index was written by another format version or model."""


class IndexCorruptError(IndexStateError):
    """An index file is missing or unreadable."""


class DocumentNotFoundError(InputError):
    """A document id that is not in the index."""


class ModelError(HoidapError):
    """The embedding or reader model could not be prepared or loaded."""
