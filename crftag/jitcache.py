"""How crftag starts numba: where its compiled kernels are kept, what happens on a read-only
install, and a start-up without scipy for the processes crftag owns.

numba caches a kernel next to its source (``__pycache__`` in the installed package), else in
the user's cache folder (``~/.cache/numba``); ``$NUMBA_CACHE_DIR`` overrides both. Where none
is writable (a read-only image run by a user without a home), numba refuses to import a
cached kernel at all. :func:`ensure_writable_cache` runs when ``crftag`` is imported, before
any kernel is defined: in that case it points numba at ``$CRFTAG_HOME/numba``, else at a
folder of the system's temporary directory. ``crftag warmup`` prints where the cache is.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _writable(path: Path) -> bool:
    """Whether ``path`` could be created and written: it, or its nearest existing parent."""
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def _user_cache() -> Path:
    """numba's user-wide cache folder on this platform (its appdirs rule, without importing numba)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "numba"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "numba" / "numba" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"


def choose_cache_dir(writable: Callable[[Path], bool] = _writable) -> Path | None:
    """The folder crftag must point numba at, or None where numba's own choice works."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None  # the user's choice (numba falls back from it by itself when it is unusable)
    if writable(PACKAGE / "text" / "__pycache__"):
        return None  # next to the source, numba's first choice
    try:
        if writable(_user_cache()):
            return None
    except RuntimeError:  # no home directory to expand
        pass
    from crftag.resources.registry import cache_dir

    try:
        candidates = [cache_dir() / "numba"]
    except RuntimeError:
        candidates = []
    user = os.getuid() if hasattr(os, "getuid") else 0
    candidates.append(Path(tempfile.gettempdir()) / f"crftag-numba-{user}")
    return next((c for c in candidates if writable(c)), candidates[-1])


def ensure_writable_cache() -> None:
    """Point numba at a writable cache folder where its own choices are not (see the module)."""
    chosen = choose_cache_dir()
    if chosen is None:
        return
    os.environ["NUMBA_CACHE_DIR"] = str(chosen)
    numba = sys.modules.get("numba")
    if numba is not None:  # numba read its configuration already; kernels defined later see this
        numba.config.CACHE_DIR = str(chosen)


def cache_location() -> str:
    """The folder numba caches crftag's kernels in, as numba itself resolved it."""
    from crftag.text.tokenize import tokenize_segments

    return str(tokenize_segments._cache._cache_path)


def lean_numba() -> None:
    """Import numba without scipy, in the processes crftag owns (the commands that tag, the
    warm-up's second process).

    numba imports scipy to check its version (0.14 s), and its first compiled call
    imports scipy.linalg to see whether BLAS is there for np.cov/np.correlate (0.2-0.3 s);
    crftag's kernels use neither. A process crftag owns lets numba start without them;
    anything that imports scipy later (training) gets it as usual.
    """
    if "numba" in sys.modules or "scipy" in sys.modules:
        return
    sys.modules["scipy"] = None  # type: ignore[assignment]  # `import scipy` raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401  (what numba's first call would import)
    except ImportError:
        pass  # a numba that needs scipy: it will import it when asked
    finally:
        del sys.modules["scipy"]
