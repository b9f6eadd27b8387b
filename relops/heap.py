"""The garbage collector tuned for a long-lived relops process (a worker's pool process, the intake)."""

from __future__ import annotations

import gc

#: A task or a request allocates thousands of objects and frees nearly all of them itself;
#: collecting the young generation every 700 allocations (the default) found nothing but cost about
#: 8 % of an intake batch's CPU and a tenth of an evaluation chunk's. Fifty thousand bounds the
#: garbage a cycle can hold to a few megabytes.
YOUNG_GENERATION_THRESHOLD = 50_000


def settle_after_startup() -> None:
    """What start-up built (config, modules, pools) lives as long as the process; left in the
    collector's generations, every full collection walks it again. Call once start-up is done."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, 20, 20)
