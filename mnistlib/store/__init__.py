"""The run store: one folder per run, written atomically, read back without training.

- ``identity``: a run's identity hash and its folder's name;
- ``format``: the store's format and its upgrade, safe against a kill;
- ``store``: ``RunStore`` and ``Run``;
- ``export``: histories as TensorBoard event files.
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "identity": ["config_hash", "run_name"],
    "store": ["Run", "RunStore", "summarize"],
})
