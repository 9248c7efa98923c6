"""Where numba's on-disk cache lives: never inside the installed package.

numba's ``cache=True`` writes ``*.nbi``/``*.nbc`` files next to the module's
``__pycache__`` unless ``NUMBA_CACHE_DIR`` says otherwise.  Inside ``site-packages`` such
files outlive ``pip uninstall`` and the leftover ``hermite_dual/__pycache__`` folder
shadows a later editable install (``import hermite_dual`` finds a namespace package with
no ``__version__``).  :func:`configure` therefore points numba at a per-user cache
directory, unless the user already chose one.

Order of precedence:

1. ``NUMBA_CACHE_DIR`` set in the environment: respected as it is;
2. ``HERMITE_DUAL_CACHE_DIR``: the cache goes to ``$HERMITE_DUAL_CACHE_DIR/numba``;
3. ``$XDG_CACHE_HOME/hermite_dual/numba`` (``~/.cache/hermite_dual/numba`` by default);
4. if that cannot be created or written, a per-user folder in the system temp directory.

>>> import os, hermite_dual
>>> path = cache_dir()
>>> import hermite_dual as hd
>>> os.path.dirname(hd.__file__) in os.path.abspath(path)
False
"""

import os
import sys
import tempfile

__all__ = ["cache_dir", "configure"]


def _writable(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _default_dir():
    own = os.environ.get("HERMITE_DUAL_CACHE_DIR")
    if own:
        return os.path.join(own, "numba")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hermite_dual", "numba")


def cache_dir():
    """The directory numba caches hermite_dual's compiled kernels in (see module notes)."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen:
        return chosen
    path = _default_dir()
    if _writable(path):
        return path
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"hermite_dual-numba-{uid}")


def configure():
    """Point numba's cache at :func:`cache_dir` before any kernel is compiled.

    Sets ``NUMBA_CACHE_DIR`` when it is unset (numba reads it when it is first imported);
    if numba was imported already, its ``config.CACHE_DIR`` is set as well, which numba
    consults each time it locates a cache.  Returns the directory.
    """
    path = cache_dir()
    os.environ.setdefault("NUMBA_CACHE_DIR", path)
    numba = sys.modules.get("numba")
    if numba is not None:
        config = getattr(numba, "config", None)
        if config is not None and not getattr(config, "CACHE_DIR", ""):
            config.CACHE_DIR = path
    return path
