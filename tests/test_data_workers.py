"""The threads the loaders read files with (oasis_helpers.data.workers)."""

from __future__ import annotations

import threading

import pytest

from oasis_helpers.data.workers import parallel_map


def test_parallel_map_keeps_the_order_and_uses_threads_for_many_items():
    threads = set()

    def square(value):
        threads.add(threading.get_ident())
        return value * value

    assert parallel_map(square, list(range(40)), workers=4) == [v * v for v in range(40)]
    assert threading.get_ident() not in threads  # the work ran on the pool's threads
    assert parallel_map(square, [], workers=4) == []


def test_few_items_or_one_worker_run_in_the_calling_thread():
    callers = set()

    def record(value):
        callers.add(threading.get_ident())
        return value

    assert parallel_map(record, [1, 2, 3], workers=4) == [1, 2, 3]
    assert parallel_map(record, list(range(20)), workers=1) == list(range(20))
    assert callers == {threading.get_ident()}


def test_the_first_error_is_raised():
    def fail_on_seven(value):
        if value == 7:
            raise OSError("file 7 is unreadable")
        return value

    with pytest.raises(OSError, match="file 7"):
        parallel_map(fail_on_seven, list(range(30)), workers=3)
