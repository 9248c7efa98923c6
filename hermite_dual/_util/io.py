"""One atomic file writer, and the check of an output path before any work is done.

:func:`atomic_write` writes to a temporary file in the target's folder, flushes and
fsyncs it, gives it the mode a plain ``open()`` would (``0o666`` less the umask, not
``mkstemp``'s ``0o600``), renames it over the target and fsyncs the folder; on any
exception, ``KeyboardInterrupt`` included, the temporary file is removed.  Temporary names
start with ``.hermite-dual-`` and end with ``.part``, so a file left by a ``SIGKILL`` is
recognisable.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> p = atomic_write(os.path.join(d, "a.json"), b"{}")
>>> open(p).read(), sorted(os.listdir(d))
('{}', ['a.json'])
>>> check_output_path(os.path.join(d, "missing", "b.json"))
Traceback (most recent call last):
...
ValueError: cannot write ...b.json': the folder ...missing' does not exist
"""

import os
import tempfile

__all__ = ["atomic_write", "check_output_path"]


def _umask_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def check_output_path(path, *, mkdir=False):
    """Refuse, before any work, an output path whose folder is missing or not writable.

    With ``mkdir=True`` a missing folder is created instead.  Returns the path (str).
    """
    path = os.fspath(path)
    if not path or os.path.isdir(path):
        raise ValueError(f"cannot write {path!r}: it is a folder, not a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        if mkdir:
            os.makedirs(folder, exist_ok=True)
        else:
            raise ValueError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path!r}: the folder {folder!r} is not writable")
    return path


def atomic_write(path, data):
    """Write ``data`` (bytes) to ``path`` atomically and durably; returns the path."""
    path = check_output_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".hermite-dual-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
    return path
