"""pecan reads a controller's signature several times per request (to route it and to
drop query arguments the method does not take) through ``pecan.util.getargspec``,
which builds a new ``namedtuple`` class on every call: a quarter of the API's CPU on a
simple GET, measured with ``tools/bench_api.py``. A method's signature does not change
while the process runs, so the API keeps each one it read.
"""

import functools

import pecan.core
import pecan.rest
import pecan.routing
import pecan.util

# The modules that imported ``getargspec`` by name and call it per request.
_CALLERS = (pecan.util, pecan.core, pecan.rest, pecan.routing)
# Controller methods are few (a few dozen); the bound is a guard, not a tuning.
_KEPT = 1024


def keep_signatures() -> None:
    """Make pecan's per-request signature reads look up what was read once (idempotent).

    A method is kept by its function: some controllers are made per request (one per
    step's cloud name), and their bound methods would each miss. pecan reads the same
    signature from either (``self`` first).
    """
    if hasattr(pecan.util.getargspec, "cache_info"):
        return
    read = functools.lru_cache(maxsize=_KEPT)(pecan.util.getargspec)

    @functools.wraps(pecan.util.getargspec)
    def kept(method):
        return read(getattr(method, "__func__", method))

    kept.cache_info = read.cache_info
    for module in _CALLERS:
        module.getargspec = kept
