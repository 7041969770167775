"""SyncWatch: the warning names silent inputs or stamp offsets, repeats at its period, clears with an info line."""
from psmnet_ros.ros.sync_watch import SyncWatch

NAMES = ["/left/image_rect", "/left/camera_info", "/right/image_rect", "/right/camera_info"]
MS = 1_000_000


def _feed(watch, t0, seconds, offsets_ms=(0, 0, 0, 0), inputs=(0, 1, 2, 3), rate_hz=10):
    """Messages at ``rate_hz`` from t0 for ``seconds``; input i stamped its frame time + offsets_ms[i]."""
    for k in range(int(seconds * rate_hz)):
        t = t0 + k / rate_hz
        for i in inputs:
            watch.arrived(i, round(t * 1e9) + offsets_ms[i] * MS, t)


def test_silent_inputs_are_named_after_the_patience_and_not_before():
    watch = SyncWatch(NAMES, approximate=False, tolerance_s=0.0, patience_s=3.0)
    _feed(watch, 0.0, 5.0, inputs=(0, 2))
    assert watch.check(2.9) is None
    level, text = watch.check(5.0)
    assert level == "warn"
    assert "receiving /left/image_rect, /right/image_rect" in text
    assert "nothing on /left/camera_info, /right/camera_info" in text
    assert "remaps" in text and "QoS" in text


def test_stamp_offset_is_reported_with_the_approximate_sync_fix():
    watch = SyncWatch(NAMES, approximate=False, tolerance_s=0.0)
    _feed(watch, 0.0, 4.0, offsets_ms=(0, 50, 0, 0))
    level, text = watch.check(4.0)
    assert level == "warn"
    assert "/left/camera_info +50.0 ms" in text
    assert "/right/image_rect +0.0 ms" in text
    assert "approximate_sync:=true" in text


def test_approximate_sync_with_too_small_a_tolerance_says_so():
    watch = SyncWatch(NAMES, approximate=True, tolerance_s=0.01)
    _feed(watch, 0.0, 4.0, offsets_ms=(0, 0, 0, -30))
    level, text = watch.check(4.0)
    assert "/right/camera_info -30.0 ms" in text
    assert "approximate_sync_tolerance_seconds is 0.01 s" in text


def test_warning_repeats_only_after_its_period_and_clears_with_info_once():
    watch = SyncWatch(NAMES, approximate=False, tolerance_s=0.0, patience_s=3.0, repeat_s=10.0)
    _feed(watch, 0.0, 20.0, inputs=(0,))
    assert watch.check(3.5)[0] == "warn"
    assert watch.check(8.0) is None
    assert watch.check(13.4) is None
    assert watch.check(13.6)[0] == "warn"
    watch.matched(14.0)
    assert watch.check(14.1) == ("info", "stereo sets are complete again; frames are being processed")
    assert watch.check(14.2) is None


def test_flowing_sets_and_silence_never_warn():
    watch = SyncWatch(NAMES, approximate=False, tolerance_s=0.0, patience_s=3.0)
    assert watch.check(100.0) is None  # nothing ever arrived
    for k in range(100):
        t = k * 0.1
        for i in range(4):
            watch.arrived(i, round(t * 1e9), t)
        watch.matched(t)
        assert watch.check(t) is None
    assert watch.check(30.0) is None  # inputs stopped: idle, not a sync problem


def test_offsets_hold_while_the_newest_set_is_still_arriving():
    """Checked between the newest left image and its partners: the offsets still come from complete sets,
    and 50 ms at 10 Hz (as near the previous frame as the next) reads as +50 ms."""
    watch = SyncWatch(NAMES, approximate=False, tolerance_s=0.0)
    _feed(watch, 0.0, 4.0, offsets_ms=(0, 50, 0, 0))
    watch.arrived(0, round(4.0 * 1e9), 4.0)  # the next left image, alone so far
    level, text = watch.check(4.05)
    assert "/left/camera_info +50.0 ms, /right/image_rect +0.0 ms, /right/camera_info +0.0 ms" in text
    assert "e.g. 0.1)" in text


def test_offsets_hold_when_one_input_lags_a_frame_behind():
    """The node's callbacks can run an input's messages late under load: the camera infos (+50 ms) of the newest
    frames have not been handled yet when the check runs."""
    watch = SyncWatch(NAMES, approximate=False, tolerance_s=0.0)
    for k in range(20):
        t = k * 0.2  # 5 Hz
        for i, offset in enumerate((0, 50, 0, 0)):
            if i != 1 or k < 16:  # the left camera_infos of frames 16-19 still queued (0.8 s behind)
                watch.arrived(i, round(t * 1e9) + offset * MS, t)
    level, text = watch.check(4.0)
    assert "/left/camera_info +50.0 ms" in text
