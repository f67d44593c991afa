"""Exception classes of aebnas: every user-facing error is one of these."""


class AebnasError(Exception):
    """Base class: bad input or a failed step, with a message fit for the user."""


class UnknownNameError(AebnasError, KeyError):
    """A name (dataset, backbone, layer type, preset, ...) that no registry holds."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidArchitectureError(AebnasError, ValueError):
    """An architecture spec that breaks a rule of its backbone or search space."""


class DatasetNotFoundError(AebnasError, FileNotFoundError):
    """Dataset files are missing and no download was requested."""


class UnreachableTargetError(AebnasError, ValueError):
    """A target average MACs below the cheapest path of a network."""


class TrainingError(AebnasError, RuntimeError):
    """Training failed (non-finite loss, out of memory); a search records it as a failed trial."""


class StoreError(AebnasError):
    """A run store that is corrupt, foreign, or holds a different config."""


class SchemaMismatchError(AebnasError, ValueError):
    """A saved predictor whose space or encoding does not match the one in use."""


class TableError(AebnasError):
    """A benchmark table file that is missing, corrupt, foreign, or does not fit the search asking it."""
