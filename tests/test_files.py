"""morl_core.files: the board folder's lock (no lock file, threads exclude each other, a clear timeout)."""

from __future__ import annotations

import threading
import time

import pytest

from morl_core.files import folder_lock


def test_folder_lock_excludes_threads_and_leaves_no_file(tmp_path):
    inside, order, overlaps = [], [], []

    def worker(i: int) -> None:
        with folder_lock(tmp_path, timeout=10):
            inside.append(i)
            overlaps.append(len(inside) > 1)  # somebody else holds it too
            time.sleep(0.05)
            order.append(i)
            inside.remove(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(order) == [0, 1, 2, 3] and not any(overlaps) and list(tmp_path.iterdir()) == []


def test_folder_lock_times_out_naming_the_folder(tmp_path):
    with folder_lock(tmp_path):
        with pytest.raises(TimeoutError, match=r"`folder` '.*' stayed locked by another writer for over 0.1 s"):
            with folder_lock(tmp_path, timeout=0.1):
                pass
    with folder_lock(tmp_path, timeout=0.1):  # released on exit
        pass
