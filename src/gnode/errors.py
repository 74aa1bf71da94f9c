"""Named errors raised at gnode's boundaries (constructors, loaders, CLI, ``fit``)."""


class GnodeError(Exception):
    """Base class: every gnode error is reported by the CLI as one line."""


class ConfigError(GnodeError, ValueError):
    """An unknown name, an impossible size or an inconsistent option."""


class DataError(GnodeError, ValueError):
    """Arrays of the wrong shape, NaN without a mask, non-monotone times."""


class CheckpointError(GnodeError):
    """A checkpoint that is missing, corrupt or does not match the model."""


class DivergenceError(GnodeError):
    """Training produced a non-finite loss; the last good checkpoint is kept."""


class RunDirError(GnodeError):
    """A run directory that would be overwritten, or is missing what ``--resume`` needs."""
