"""The errors the loader's ``handler`` sees: :class:`SampleError` (one sample) and
:class:`ShardError` (the rest of a shard), both :class:`LoaderError` naming the shard."""
from __future__ import annotations

__all__ = ["LoaderError", "SampleError", "ShardError"]


class LoaderError(Exception):
    """Base of the errors the loader's ``handler`` sees; ``url`` names the shard."""

    def __init__(self, message: str, url: str = "", key: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.key = key


class SampleError(LoaderError):
    """One sample is unusable (bad member name, missing member, undecodable bytes)."""


class ShardError(LoaderError):
    """The rest of a shard is unreadable (missing, truncated, corrupt, checksum mismatch)."""
