"""Third adversarial round, grad mode: one `no_grad()` / `enable_grad()` object entered more than
once at a time (nested, or by several threads, e.g. a module-level `NO_GRAD = ag.no_grad()`). The
object kept one saved mode, so the last exit restored another entry's mode: grad mode stayed off
on a thread that had it on (and the reverse), against "grad mode is per thread"."""

import threading

import numpy as np
import pytest

import autograd as ag


@pytest.mark.parametrize("make", [ag.no_grad, ag.enable_grad])
def test_one_object_entered_twice_nested_restores_the_outer_mode(make):
    for start in (True, False):
        cm = make()
        with ag.enable_grad() if start else ag.no_grad():
            with cm:
                with cm:
                    assert ag.is_grad_enabled() is cm.mode
                assert ag.is_grad_enabled() is cm.mode
            assert ag.is_grad_enabled() is start
    assert ag.is_grad_enabled()


def test_one_no_grad_object_shared_by_threads_keeps_each_threads_mode():
    shared = ag.no_grad()
    a_inside, b_done = threading.Event(), threading.Event()
    seen = {}

    def a():                            # grad on, enters first, leaves last
        with shared:
            a_inside.set()
            b_done.wait(5)
        seen["a"] = ag.is_grad_enabled()
        x = ag.tensor(np.ones(2), requires_grad=True)
        seen["a_records"] = (x * 2).requires_grad

    def b():                            # grad off, enters and leaves while a is inside
        a_inside.wait(5)
        with ag.no_grad():
            with shared:
                pass
            seen["b_inner"] = ag.is_grad_enabled()
        seen["b"] = ag.is_grad_enabled()
        b_done.set()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": True, "a_records": True, "b_inner": False, "b": True}


def test_many_threads_hammering_one_object():
    shared = ag.enable_grad()
    errors = []

    def work(start):
        with ag.enable_grad() if start else ag.no_grad():
            for _ in range(2000):
                with shared:
                    if not ag.is_grad_enabled():
                        errors.append("inside")
                if ag.is_grad_enabled() is not start:
                    errors.append(("after", start))
                    return

    threads = [threading.Thread(target=work, args=(i % 2 == 0,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
