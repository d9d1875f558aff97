"""The exceptions stabreport raises on purpose; the command line maps each to an exit code."""


class StabreportError(Exception):
    """Base class: a failure with a message meant for the user."""

    exit_code = 1


class ConfigError(StabreportError):
    """Bad input: a parameter, option or report config value that is not allowed. `key` names
    the parameter at fault when there is one, so a config error can point at its own line."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ComputeError(StabreportError):
    """A setting that cannot be computed (for example a network whose every unit died)."""


class BuildError(StabreportError):
    """The site build failed: a template error, or claims that do not hold under --strict."""
