"""Collection rules for the whole repository (doctests of the package included).

The module doctests of :mod:`hermite_dual.distributed` need the ``[dask]`` extra; the
README's test command installs ``[test]`` only, so they are collected only where Dask is
installed (``.ci/run`` installs ``[dask]`` and runs them with ``tests/test_distributed.py``).
Likewise :mod:`hermite_dual.sklearn` needs the ``[sklearn]`` extra (``tests/test_sklearn.py``
skips itself without it; ``.ci/run`` installs the extra and runs both).
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("dask") is None or importlib.util.find_spec("distributed") is None:
    collect_ignore += ["hermite_dual/distributed.py", "hermite_dual/gram_cli.py"]
if importlib.util.find_spec("sklearn") is None:
    collect_ignore += ["hermite_dual/sklearn.py"]
