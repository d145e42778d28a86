"""Errors a user can act on. Stages turn them into one clear log line and exit code 1."""


class GymChurnError(Exception):
    """Base class: the message is meant for the person running the pipeline."""


class DataValidationError(GymChurnError):
    """An input file breaks the data contract (missing column, bad values, ...)."""


class ParamsError(GymChurnError):
    """params.yaml is missing a key, has an unknown key or an out-of-range value."""


class ModelFileError(GymChurnError):
    """A model file cannot be loaded safely."""


class ContractError(GymChurnError):
    """The data contract file is malformed or contradicts itself."""
