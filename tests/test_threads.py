"""The thread guard: busy cores read from /proc/stat by hand, one thread left on a busy CPU,
nothing changed on a quiet one or when the learner chose."""

import pytest
import torch

from cnnedu.threads import busy_cores, cpu_times, free_threads, guard_threads


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_cpu_times_reads_the_first_line(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 5 50 800 20 3 2 0 7 0\ncpu0 50 2 25 400 10 1 1 0 3 0\n")
    assert cpu_times(stat) == (820, 980)              # idle 800 + iowait 20; total of 8 fields
    assert cpu_times(tmp_path / "missing") is None
    (tmp_path / "odd").write_text("intr 1 2 3\n")
    assert cpu_times(tmp_path / "odd") is None


def test_busy_cores_by_hand():
    # 2 cores, 100 jiffies passed in all, 25 of them idle: 1.5 cores busy
    assert busy_cores((1000, 5000), (1025, 5100), cores=2) == pytest.approx(1.5)
    assert busy_cores((10, 10), (10, 10), cores=2) == 0.0


@pytest.mark.parametrize("busy, cores, threads", [
    (0.1, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (1.0, 2, 1), (3.7, 2, 1), (5.2, 16, 11), (0.0, 1, 1)])
def test_free_threads_leaves_the_idle_cores_at_least_one(busy, cores, threads):
    assert free_threads(busy, cores) == threads


def test_a_busy_cpu_gets_the_free_cores_and_a_note():
    torch.set_num_threads(2)
    note = guard_threads(cores=2, env={}, sample=lambda: 1.2)
    assert torch.get_num_threads() == 1
    assert note.startswith("other work keeps 1.2 of 2 cores busy: PyTorch uses 1 thread ")


def test_a_quiet_cpu_or_no_reading_is_left_alone():
    torch.set_num_threads(2)
    assert guard_threads(cores=2, env={}, sample=lambda: 0.2) == ""
    assert guard_threads(cores=2, env={}, sample=lambda: None) == ""
    assert torch.get_num_threads() == 2


def test_a_chosen_thread_count_wins():
    torch.set_num_threads(2)
    assert guard_threads(cores=2, env={"OMP_NUM_THREADS": "2"}, sample=lambda: 2.0) == ""
    assert torch.get_num_threads() == 2
    assert guard_threads(cores=2, env={"CNNEDU_THREADS": "1"}, sample=lambda: 0.0) == ""
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="CNNEDU_THREADS must be a positive whole number, got 'x'"):
        guard_threads(cores=2, env={"CNNEDU_THREADS": "x"})
