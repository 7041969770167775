"""StereoSynchronizer on hand-built stamp sequences (inputs: 0 left image, 1 left info,
2 right image, 3 right info). Messages are tuples naming their input and stamp."""
import random
import threading

import pytest

from psmnet_ros.ros.sync import StereoSynchronizer

MS = 1_000_000  # nanoseconds per millisecond


class Recorder:
    def __init__(self):
        self.sets = []

    def __call__(self, *msgs):
        self.sets.append(msgs)

    def stamps(self):
        return [tuple(m[1] for m in s) for s in self.sets]


def feed(sync, events):
    """events: (input index, stamp in ms); the message is (index, stamp_ns)."""
    for index, stamp_ms in events:
        sync.add(index, stamp_ms * MS, (index, stamp_ms * MS))


def frame(stamp_ms, order=(0, 1, 2, 3)):
    return [(i, stamp_ms) for i in order]


def test_exact_emits_one_set_per_complete_stamp_in_input_order():
    rec = Recorder()
    sync = StereoSynchronizer(rec)
    feed(sync, frame(100, order=(3, 0, 2, 1)) + frame(200))
    assert rec.stamps() == [(100 * MS,) * 4, (200 * MS,) * 4]
    assert [tuple(m[0] for m in s) for s in rec.sets] == [(0, 1, 2, 3), (0, 1, 2, 3)]
    assert sync.dropped == 0


def test_exact_set_waits_for_the_last_input():
    rec = Recorder()
    sync = StereoSynchronizer(rec)
    feed(sync, [(0, 100), (1, 100), (2, 100)])
    assert rec.sets == []
    feed(sync, [(3, 100)])
    assert rec.stamps() == [(100 * MS,) * 4]


def test_exact_missing_topic_frame_is_dropped_when_a_newer_set_completes():
    rec = Recorder()
    sync = StereoSynchronizer(rec)
    feed(sync, [(0, 100), (1, 100), (2, 100)])  # right info of frame 100 never comes
    feed(sync, frame(200))
    assert rec.stamps() == [(200 * MS,) * 4]
    assert sync.dropped == 3  # the three frame-100 messages, discarded as older


def test_exact_does_not_pair_different_stamps():
    rec = Recorder()
    sync = StereoSynchronizer(rec, approximate=False, tolerance_s=0.5)  # tolerance ignored
    feed(sync, [(0, 100), (1, 100), (2, 101), (3, 101)])
    assert rec.sets == []


def test_reordered_frames_across_inputs():
    rec = Recorder()
    sync = StereoSynchronizer(rec)
    feed(sync, [(0, 200), (0, 100), (1, 100), (2, 200), (1, 200), (2, 100), (3, 100), (3, 200)])
    assert rec.stamps() == [(100 * MS,) * 4, (200 * MS,) * 4]
    assert sync.dropped == 0


def test_late_message_older_than_an_emitted_set_is_dropped():
    rec = Recorder()
    sync = StereoSynchronizer(rec)
    feed(sync, frame(200))
    feed(sync, [(0, 100), (0, 200)])  # older, and a duplicate of an emitted stamp
    assert sync.dropped == 2
    feed(sync, frame(100))
    assert rec.stamps() == [(200 * MS,) * 4]


def test_duplicate_stamp_on_one_input_keeps_the_newest_message():
    rec = Recorder()
    sync = StereoSynchronizer(rec)
    sync.add(0, 100 * MS, "first")
    sync.add(0, 100 * MS, "second")
    for i in (1, 2, 3):
        sync.add(i, 100 * MS, f"input{i}")
    assert rec.sets == [("second", "input1", "input2", "input3")]
    assert sync.dropped == 1


def test_approximate_pairs_within_tolerance():
    rec = Recorder()
    sync = StereoSynchronizer(rec, approximate=True, tolerance_s=0.010)
    feed(sync, [(0, 100), (1, 100), (2, 108), (3, 110)])  # spread 10 ms == tolerance
    assert rec.stamps() == [(100 * MS, 100 * MS, 108 * MS, 110 * MS)]


def test_approximate_never_pairs_beyond_tolerance():
    rec = Recorder()
    sync = StereoSynchronizer(rec, approximate=True, tolerance_s=0.010)
    feed(sync, [(0, 100), (1, 100), (2, 111), (3, 111)])  # spread 11 ms
    assert rec.sets == []
    feed(sync, [(0, 112), (1, 112)])  # now 111/112: spread 1 ms
    assert rec.stamps() == [(112 * MS, 112 * MS, 111 * MS, 111 * MS)]
    assert sync.dropped == 2  # the two left messages at 100 ms


def test_approximate_picks_the_tightest_set():
    rec = Recorder()
    sync = StereoSynchronizer(rec, approximate=True, tolerance_s=0.050)
    # Inputs 0-2 hold 100 ms and 130 ms; input 3 arrives at 120 ms.
    # Sets: pivot 100 -> {100,100,100,120} spread 20; pivot 120 -> {130,130,130,120} spread 10.
    feed(sync, [(0, 100), (1, 100), (2, 100), (0, 130), (1, 130), (2, 130), (3, 120)])
    assert rec.stamps() == [(130 * MS, 130 * MS, 130 * MS, 120 * MS)]
    assert sync.dropped == 3  # the 100 ms messages, older than the set


def test_approximate_with_zero_tolerance_is_exact():
    rec = Recorder()
    sync = StereoSynchronizer(rec, approximate=True, tolerance_s=0.0)
    feed(sync, [(0, 100), (1, 100), (2, 101), (3, 101)] + frame(200))
    assert rec.stamps() == [(200 * MS,) * 4]


def test_queue_bound_drops_oldest():
    rec = Recorder()
    sync = StereoSynchronizer(rec, queue_size=3)
    feed(sync, [(0, t) for t in (100, 200, 300, 400, 500)])  # 100 and 200 pushed out
    assert sync.dropped == 2
    feed(sync, [(1, 100), (2, 100), (3, 100)])
    assert rec.sets == []  # frame 100's left image is gone
    feed(sync, [(1, 300), (2, 300), (3, 300)])
    assert rec.stamps() == [(300 * MS,) * 4]
    # dropped now also counts frame 100 of inputs 1-3, discarded when 300 was emitted
    assert sync.dropped == 5


FUTURE_MS = 10**9  # stamps about 11 days ahead: a camera whose clock is far off; no partner will match them


def test_messages_stamped_in_the_future_cannot_starve_an_input():
    """A queue filled with stamps no partner will ever match still takes every new message, and each
    future stamp leaves after queue_size arrivals (dropping the oldest stamp first, as message_filters
    does, would drop each new message itself, for good)."""
    rec = Recorder()
    sync = StereoSynchronizer(rec, queue_size=3)
    feed(sync, [(0, FUTURE_MS + k) for k in range(3)])
    for stamp in (100, 200, 300, 400):
        feed(sync, frame(stamp))
    assert rec.stamps() == [(t * MS,) * 4 for t in (100, 200, 300, 400)]
    assert sync.dropped == 3 and sync.pending == 0


def test_a_message_leaves_after_queue_size_arrivals_on_its_input():
    rec = Recorder()
    sync = StereoSynchronizer(rec, queue_size=2)
    feed(sync, [(0, FUTURE_MS)] + frame(100))
    assert sync.pending == 1  # the future stamp waits: one newer message arrived on its input
    feed(sync, frame(200))
    assert sync.pending == 0 and sync.dropped == 1
    assert rec.stamps() == [(100 * MS,) * 4, (200 * MS,) * 4]


def test_a_future_stamp_gives_its_place_up_first():
    """One future stamp holds a place only while the input has room: when a lagging partner makes
    the input fill up, it goes before the frames still waiting for their partners."""
    rec = Recorder()
    sync = StereoSynchronizer(rec, queue_size=2)
    feed(sync, [(0, FUTURE_MS), (0, 100), (0, 200)])  # left images run ahead of the other inputs
    assert sync.dropped == 1 and sync.pending == 2
    feed(sync, frame(100, order=(1, 2, 3)) + frame(200, order=(1, 2, 3)))
    assert rec.stamps() == [(100 * MS,) * 4, (200 * MS,) * 4]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="queue_size"):
        StereoSynchronizer(print, queue_size=0)
    with pytest.raises(ValueError, match="tolerance_s"):
        StereoSynchronizer(print, approximate=True, tolerance_s=-0.1)
    with pytest.raises(IndexError, match="out of range"):
        StereoSynchronizer(print).add(4, 0, None)


def test_thread_safety_with_several_producers():
    n_frames = 200
    rec = Recorder()
    sync = StereoSynchronizer(rec, queue_size=n_frames)
    barrier = threading.Barrier(4)

    def produce(index):
        stamps = list(range(1, n_frames + 1))
        random.Random(index).shuffle(stamps)
        barrier.wait()
        for stamp in stamps:
            sync.add(index, stamp * MS, (index, stamp * MS))

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stamps = rec.stamps()
    assert stamps, "no set was emitted"
    assert all(len(set(s)) == 1 for s in stamps)  # every set matched exactly
    firsts = [s[0] for s in stamps]
    assert firsts == sorted(set(firsts))  # strictly increasing, no set emitted twice
    # every message was either emitted in a set or counted as dropped
    assert 4 * len(stamps) + sync.dropped + sync.pending == 4 * n_frames


def test_time_jumping_back_restarts_synchronization():
    """A bag played in a loop replays its stamps: every pass must be synchronized again."""
    sets = []
    sync = StereoSynchronizer(lambda *m: sets.append(m), queue_size=5)
    stamps = [0, 500_000_000, 1_500_000_000]  # a 1.5 s recording
    for _ in range(2):
        for stamp in stamps:
            for index in range(4):
                sync.add(index, 10**18 + stamp, (index, stamp))
    assert [m[0][1] for m in sets] == stamps + stamps
    late = StereoSynchronizer(lambda *m: sets.append(m), queue_size=5)
    for index in range(4):
        late.add(index, 2 * 10**9, index)
    late.add(0, 2 * 10**9 - 100_000_000, "late by 0.1 s")  # a late frame, not a jump: dropped
    assert late.dropped == 1 and late.pending == 0
