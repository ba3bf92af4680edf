"""Threads for reading and decoding files (file reads, zlib and nibabel release the GIL)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


def parallel_map(function, items: list, workers: int | None) -> list:
    """``[function(item) for item in items]`` on up to ``workers`` threads (None: up to 16).

    In order; serial for fewer than 8 items or one worker. The first exception stops the
    pool (queued items are cancelled) and is raised.
    """
    if not items:
        return []
    workers = workers or min(16, 4 * (os.cpu_count() or 1))
    if workers <= 1 or len(items) < 8:
        return [function(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(function, items))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # stop at the first bad file
        raise
    finally:
        pool.shutdown(wait=True)
