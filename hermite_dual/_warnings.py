"""Warning classes of hermite_dual (one place, so pytest can turn them into errors)."""

__all__ = ["HermiteDualWarning"]


class HermiteDualWarning(UserWarning):
    """Base class of every warning hermite_dual emits."""
