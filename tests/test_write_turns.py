"""WriteTurns: the store's threads take turns at writing in the order they came."""

import threading
import time

from claimstore_server.store._write_turns import WriteTurns


def wait_until_waiting(turns: WriteTurns, count: int) -> None:
    for _ in range(1000):
        if len(turns._waiting) == count:
            return
        time.sleep(0.001)
    raise AssertionError(f"never {count} waiting")


def test_a_free_lock_is_taken_at_once_and_a_held_one_times_out() -> None:
    turns = WriteTurns()
    assert turns.acquire(timeout=0)
    assert not turns.acquire(timeout=0.01)
    turns.release()
    assert turns.acquire(timeout=0)
    turns.release()


def test_waiters_get_their_turns_in_the_order_they_came() -> None:
    turns = WriteTurns()
    order: list[int] = []
    assert turns.acquire(timeout=1)

    def write(number: int) -> None:
        assert turns.acquire(timeout=10)
        order.append(number)
        turns.release()

    threads = []
    for number in range(5):
        thread = threading.Thread(target=write, args=(number,))
        thread.start()
        threads.append(thread)
        wait_until_waiting(turns, number + 1)
    turns.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_that_gave_up_is_skipped() -> None:
    turns = WriteTurns()
    assert turns.acquire(timeout=1)
    gave_up = threading.Thread(target=lambda: turns.acquire(timeout=0.01))
    gave_up.start()
    gave_up.join()
    took: list[bool] = []
    waiter = threading.Thread(target=lambda: took.append(turns.acquire(timeout=10)))
    waiter.start()
    wait_until_waiting(turns, 1)
    turns.release()
    waiter.join(timeout=10)
    assert took == [True]
    turns.release()
    assert turns.acquire(timeout=0)
