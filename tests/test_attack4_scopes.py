"""Attacks on the per-thread recording state (attack4): a scope or an observer object entered
again while it is open (nested, or on another thread) must restore exactly what its own entry
changed."""

import threading

import numpy as np

import autograd as ag
from autograd.tensor import RECORD, STATE


def test_a_scope_object_entered_twice_nested_restores_the_outer_state():
    s = ag.scope("enc")
    with s:
        with s:
            assert STATE.scope == ("enc", "enc")
        assert STATE.scope == ("enc",)
    assert STATE.scope == ()
    assert STATE.recording == RECORD        # no stale scope keeps nodes labelled


def test_a_scope_object_shared_by_threads_restores_each_threads_own_scope():
    s = ag.scope("shared")
    entered, exited = threading.Barrier(2), threading.Barrier(2)
    seen = {}

    def first():
        with ag.scope("outer"):
            with s:
                entered.wait()
                exited.wait()
            seen["first"] = STATE.scope

    def second():
        entered.wait()
        with s:
            exited.wait()
        seen["second"] = STATE.scope
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"first": ("outer",), "second": ()}


def test_a_scope_left_by_an_exception_is_closed():
    s = ag.scope("enc")
    try:
        with s:
            with s:
                raise KeyError("boom")
    except KeyError:
        pass
    assert STATE.scope == ()


def test_a_scope_left_open_inside_another_is_closed_with_it():
    with ag.scope("outer"):
        ag.scope("leaked").__enter__()
    assert STATE.scope == ()


def test_an_observer_entered_twice_nested_still_watches_after_the_inner_exit():
    d = ag.detect_anomaly()
    x = ag.tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with d:
        with d:
            pass
        assert d in STATE.observers
        try:
            with np.errstate(invalid="ignore"):
                ag.log(x)
        except RuntimeError as err:
            assert "NaN" in str(err)
        else:
            raise AssertionError("detect_anomaly stopped watching after its inner exit")
    assert STATE.observers == ()
    assert STATE.recording == RECORD
