"""FrameQueue: bounded drop-oldest queue handing out same-size batches (ROS-free)."""
import math
import sys
import threading
import time

import pytest

from psmnet_ros.core.errors import InputError
from psmnet_ros.core.frame_queue import FrameQueue


def _put_later(queue, delay_s, item, key=None):
    timer = threading.Timer(delay_s, queue.put, args=(item, key))
    timer.start()
    return timer


def test_full_queue_drops_the_oldest_and_keeps_the_newest():
    q = FrameQueue(capacity=3, batch_size=3)
    drops = [q.put(i) for i in range(1, 6)]
    assert drops == [0, 0, 0, 1, 1]
    assert q.dropped == 2
    assert len(q) == 3
    assert q.get_batch(timeout_s=0) == [3, 4, 5]
    assert len(q) == 0


def test_batches_are_capped_at_batch_size_in_arrival_order():
    q = FrameQueue(capacity=5, batch_size=2)
    for i in range(1, 6):
        q.put(i)
    assert [q.get_batch(0), q.get_batch(0), q.get_batch(0)] == [[1, 2], [3, 4], [5]]


def test_a_batch_only_holds_consecutive_items_of_one_key():
    q = FrameQueue(capacity=6, batch_size=4)
    for item, key in (("a1", (2, 3)), ("a2", (2, 3)), ("b1", (4, 5)), ("a3", (2, 3))):
        q.put(item, key)
    assert q.get_batch(0) == ["a1", "a2"]
    assert q.get_batch(0) == ["b1"]
    assert q.get_batch(0) == ["a3"]


def test_empty_queue_times_out_with_an_empty_batch():
    q = FrameQueue(capacity=1, batch_size=1)
    start = time.monotonic()
    assert q.get_batch(timeout_s=0.1) == []
    assert 0.09 <= time.monotonic() - start < 1.0


def test_partial_batch_waits_max_delay_after_the_first_item_then_goes():
    q = FrameQueue(capacity=4, batch_size=3, max_delay_s=0.3)
    q.put(1)
    start = time.monotonic()
    timer = _put_later(q, 0.05, 2)
    batch = q.get_batch(timeout_s=5)
    elapsed = time.monotonic() - start
    timer.join()
    assert batch == [1, 2]
    assert 0.25 <= elapsed < 1.5


def test_batch_goes_as_soon_as_it_is_full():
    q = FrameQueue(capacity=2, batch_size=2, max_delay_s=10.0)
    q.put(1)
    start = time.monotonic()
    timer = _put_later(q, 0.05, 2)
    assert q.get_batch(timeout_s=5) == [1, 2]
    assert time.monotonic() - start < 2.0
    timer.join()


def test_an_item_of_another_size_ends_the_wait():
    q = FrameQueue(capacity=3, batch_size=3, max_delay_s=10.0)
    q.put("small", (10, 10))
    start = time.monotonic()
    timer = _put_later(q, 0.05, "large", (20, 20))
    assert q.get_batch(timeout_s=5) == ["small"]
    assert time.monotonic() - start < 2.0
    timer.join()
    q.max_delay_s = 0.0
    assert q.get_batch(0) == ["large"]


def test_lowering_max_delay_releases_a_waiting_batch():
    q = FrameQueue(capacity=2, batch_size=2, max_delay_s=10.0)
    q.put(1)
    timer = threading.Timer(0.05, setattr, args=(q, "max_delay_s", 0.0))
    start = time.monotonic()
    timer.start()
    assert q.get_batch(timeout_s=5) == [1]
    assert time.monotonic() - start < 2.0
    timer.join()


def _blocked_in_get_batch(thread: threading.Thread) -> bool:
    """Whether ``thread`` is waiting on a condition inside FrameQueue.get_batch, from its call stack."""
    frame = sys._current_frames().get(thread.ident)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return "wait" in names and "get_batch" in names and names.index("wait") < names.index("get_batch")


def test_close_wakes_a_blocked_consumer():
    q = FrameQueue(capacity=1, batch_size=1)
    result = {}
    consumer = threading.Thread(target=lambda: result.setdefault("batch", q.get_batch(None)))
    consumer.start()
    deadline = time.monotonic() + 5.0
    while not _blocked_in_get_batch(consumer):
        assert time.monotonic() < deadline, "the consumer never waited"
        time.sleep(0.001)
    q.close()
    consumer.join(timeout=2.0)
    assert not consumer.is_alive()
    assert result["batch"] == []
    q.put(1)
    assert q.get_batch(0) == []


def test_fast_producer_slow_consumer_stays_bounded_and_loses_only_old_items():
    q = FrameQueue(capacity=3, batch_size=2)
    n_items = 5000
    taken, max_len = [], [0]
    done = threading.Event()

    def produce():
        for i in range(n_items):
            q.put(i)
            max_len[0] = max(max_len[0], len(q))
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    while not (done.is_set() and len(q) == 0):
        taken.extend(q.get_batch(timeout_s=0.05))
        time.sleep(0.001)  # a consumer slower than the producer
    producer.join()
    assert max_len[0] <= 3
    assert len(taken) + q.dropped == n_items
    assert q.dropped > 0
    assert taken == sorted(set(taken))  # order kept, nothing twice
    assert taken[-1] == n_items - 1     # the newest item is never dropped


@pytest.mark.parametrize("capacity, batch_size, delay", [(1, 0, 0.0), (1, 2, 0.0), (2, 2, -0.1), (2, 2, math.nan)])
def test_invalid_settings_are_rejected(capacity, batch_size, delay):
    with pytest.raises(InputError):
        FrameQueue(capacity=capacity, batch_size=batch_size, max_delay_s=delay)
