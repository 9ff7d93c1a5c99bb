"""The parallel runtime as it is really used: forked and spawned processes, Ctrl-C, concurrent callers, CPU
affinity and container quotas, and the process-wide thread budget.

Anything that could hang (fork, signals) runs in a child process with a timeout, so a hang fails the test instead
of the run. Nothing here asserts a duration except "long before the call would have ended".
"""
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fastconv
from fastconv import _runtime, _threads

TIMEOUT = 120
ROOT = Path(fastconv.__file__).resolve().parents[1]


def run_python(code, env=None, timeout=TIMEOUT, taskset=None):
    """Run `code` as a script in a fresh interpreter that imports this fastconv (a file, so that spawned and
    forkserver children can import its functions); its stdout, or a failure naming why."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    environ.update(env or {})
    folder = tempfile.mkdtemp()
    script = Path(folder) / "child.py"
    script.write_text(textwrap.dedent(code))
    command = [sys.executable, str(script)]
    if taskset is not None:
        command = ["taskset", "-c", taskset] + command
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environ)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the child hung for {timeout} s; its output: {e.stdout!r} {e.stderr!r}")
    assert done.returncode == 0, done.stderr
    return done.stdout


WORKLOAD = """
import numpy as np, fastconv
rng = np.random.default_rng(0)
image = rng.integers(0, 256, (600, 800), dtype=np.uint8)
kernels = [rng.uniform(-1, 1, (7, 7)), fastconv.kernels.gaussian(9, 2.0), np.ones((15, 15)) / 225,
           rng.uniform(-1, 1, (21, 21)), fastconv.kernels.sharpen()]
expected = [fastconv.convolve(image, K, threads=1) for K in kernels]

def work(threads):
    return all(np.array_equal(fastconv.convolve(image, K, threads=threads), e) for K, e in zip(kernels, expected))
"""


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_pool_children_work_whatever_the_parent_did(method):
    """The parent filters with every thread first (helpers alive), then pool children filter with any threads."""
    out = run_python(WORKLOAD + f"""
import multiprocessing as mp
if __name__ == "__main__":
    assert work(None) and work(2)
    with mp.get_context({method!r}).Pool(2) as pool:
        print(all(pool.map(work, [None, 1, 2, 3, None, 2])))
""")
    assert out.strip() == "True"


def test_fork_while_another_thread_is_inside_a_call():
    """Forks taken at random moments of a thread's back-to-back multi-threaded calls: every child filters."""
    out = run_python(WORKLOAD + """
import os, threading, time
stop = False
def busy():
    while not stop:
        fastconv.convolve(image, kernels[3], threads=2)
worker = threading.Thread(target=busy)
worker.start()
codes = []
for i in range(20):
    time.sleep(0.002 * (i % 7))
    pid = os.fork()
    if pid == 0:
        os._exit(0 if work(None) and work(2) else 3)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
stop = True
worker.join()
print(codes.count(0))
""")
    assert out.strip() == "20"


def test_process_pool_executor_after_threaded_calls():
    out = run_python(WORKLOAD + """
from concurrent.futures import ProcessPoolExecutor
import multiprocessing as mp
if __name__ == "__main__":
    assert work(None)
    with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
        print(all(pool.map(work, [None, 2, 1, None])))
""")
    assert out.strip() == "True"


INTERRUPTIBLE = """
import sys, time, numpy as np, fastconv
image = np.random.default_rng(0).standard_normal((6000, 6000))
K = np.random.default_rng(1).uniform(-1, 1, (63, 63))
out = np.full(image.shape, 7.0)
print("ready", flush=True)
start = time.perf_counter()
try:
    fastconv.convolve(image, K, output="float", accumulate="float64", threads=THREADS, out=out)
    print("finished", time.perf_counter() - start, flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, flush=True)
    # the pixels written are the call's, the rest as they were; and the process goes on filtering
    done = (out != 7.0).mean()
    small = np.random.default_rng(2).standard_normal((40, 50))
    ours = fastconv.convolve(small, K[:5, :5], output="float", threads=THREADS)
    padded = np.pad(small, 2, mode="edge")
    twin = sum(K[i, j] * padded[i:i + 40, j:j + 50] for i in range(5) for j in range(5))
    print("usable", bool(np.abs(ours - twin).max() < 1e-9), 0 < done < 1, flush=True)
"""


def interrupt(code, after):
    """Run `code` in a child Python that prints "ready" before its long call; SIGINT it `after` seconds later. The
    lines it printed, the first checked to say it was interrupted."""
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=environ)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(after)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=TIMEOUT)
    finally:
        child.kill()
    lines = out.split("\n")
    assert lines[0].startswith("interrupted"), (out, err)
    return lines


@pytest.mark.parametrize("threads", [1, 2, None])
def test_ctrl_c_interrupts_a_long_call(threads):
    """SIGINT a second into a call of minutes: KeyboardInterrupt comes long before the call would have ended, the
    process filters again correctly, and `out` holds part of the result (the rest untouched)."""
    lines = interrupt(INTERRUPTIBLE.replace("THREADS", repr(threads)), after=1.0)
    # the whole call takes minutes here (6000 x 6000 float64 pixels, 3969 taps each): stopping within 10 s of the
    # signal is "long before"; the bench measures the actual latency
    assert float(lines[0].split()[1]) < 11.0, lines
    assert lines[1] == "usable True True", lines


def test_ctrl_c_while_waiting_for_the_budget():
    """A caller waiting for a thread slot (the budget busy with another thread's call) is interrupted too."""
    out = run_python("""
import threading, time, signal, os, numpy as np, fastconv
fastconv.set_threads(1)
image = np.random.default_rng(0).standard_normal((4000, 4000))
K = np.random.default_rng(1).uniform(-1, 1, (63, 63))
started = threading.Event()
def hold():
    started.set()
    try:
        fastconv.convolve(image, K, output="float", accumulate="float64")
    except Exception:
        pass
holder = threading.Thread(target=hold, daemon=True)
holder.start()
started.wait()
time.sleep(0.5)
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    fastconv.convolve(image[:100, :100], K, output="float")
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start < 10)
os._exit(0)
""")
    assert out.strip() == "interrupted True"


def test_concurrent_calls_equal_serial_ones_and_share_the_budget():
    """Eight Python threads calling with threads=None (a web server, dask's threaded scheduler): the results
    equal serial calls bit for bit, and at no time do more threads filter than the budget."""
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (300, 400), dtype=np.uint8) for _ in range(8)]
    kernels_ = [rng.uniform(-1, 1, (7, 7)), fastconv.kernels.gaussian(7, 1.5), rng.uniform(-1, 1, (19, 19))]
    serial = [[fastconv.convolve(im, K, output="float", threads=1) for K in kernels_] for im in images]
    budget = 2
    peak = 0
    stop = threading.Event()

    def watch():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _runtime.stats()["busy"])

    results = [None] * len(images)

    def call(i):
        results[i] = [fastconv.convolve(images[i], K, output="float") for K in kernels_ for _ in range(3)][::3]

    with fastconv.thread_limit(budget):
        watcher = threading.Thread(target=watch)
        watcher.start()
        workers = [threading.Thread(target=call, args=(i,)) for i in range(len(images))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop.set()
        watcher.join()
    for got, want in zip(results, serial):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
    assert 1 <= peak <= budget


@pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/usr/bin/taskset").exists(),
                    reason="taskset (util-linux) on Linux")
def test_one_core_of_affinity_means_one_thread():
    """Pinned to one core (taskset, cpusets), threads=None is one thread: no helper thread is ever started."""
    out = run_python(WORKLOAD + """
import fastconv._runtime as rt
assert work(None)
print(fastconv.get_threads(), rt.stats()["helpers_started"], fastconv.config()["cores_available"])
""", taskset="0", env={"FASTCONV_NUM_THREADS": "", "OMP_NUM_THREADS": ""})
    assert out.split() == ["1", "0", "1"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="os.sched_setaffinity")
def test_affinity_changed_at_run_time_is_seen():
    out = run_python("""
import os, time, fastconv
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
time.sleep(0.15)       # the budget reads the affinity at most every 0.1 s
print(fastconv.get_threads())
""", env={"FASTCONV_NUM_THREADS": "", "OMP_NUM_THREADS": ""})
    assert out.strip() == "1"


@pytest.mark.parametrize("env, expected", [
    ({"FASTCONV_NUM_THREADS": "3"}, 3),
    ({"FASTCONV_NUM_THREADS": "", "OMP_NUM_THREADS": "5,2"}, 5),
    ({"FASTCONV_NUM_THREADS": "4", "OMP_NUM_THREADS": "1"}, 4),
])
def test_the_environment_sets_the_budget(env, expected):
    out = run_python("import fastconv; print(fastconv.get_threads(), fastconv.config()['threads'])", env=env)
    assert out.split() == [str(expected)] * 2


def test_a_bad_environment_value_is_ignored_with_a_warning():
    assert _threads._env_threads({"FASTCONV_NUM_THREADS": "7"}) == 7
    with pytest.warns(RuntimeWarning, match="FASTCONV_NUM_THREADS must be a positive integer; got 'many'"):
        assert _threads._env_threads({"FASTCONV_NUM_THREADS": "many", "OMP_NUM_THREADS": "2"}) == 2
    with pytest.warns(RuntimeWarning, match="OMP_NUM_THREADS"):
        assert _threads._env_threads({"OMP_NUM_THREADS": "0"}) == 0


def _cgroup(tmp_path, cgroup_lines, files):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cgroup").write_text(cgroup_lines)
    for name, text in files.items():
        path = tmp_path / "sys" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "sys"), str(tmp_path / "proc" / "cgroup")


@pytest.mark.parametrize("lines, files, expected", [
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),                                  # v2, no quota
    ("0::/\n", {"cpu.max": "150000 100000\n"}, 2),                                  # v2: 1.5 cores -> 2
    ("0::/kubepods/pod1\n", {"kubepods/pod1/cpu.max": "max 100000", "kubepods/cpu.max": "100000 100000"}, 1),
    ("4:cpu,cpuacct:/docker/abc\n", {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000",
                                     "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000"}, 3),    # v1
    ("4:cpu,cpuacct:/\n", {"cpu,cpuacct/cpu.cfs_quota_us": "-1", "cpu,cpuacct/cpu.cfs_period_us": "100000"}, None),
    ("", {}, None),
])
def test_container_cpu_quota(tmp_path, lines, files, expected):
    root, cgroup_file = _cgroup(tmp_path, lines, files)
    assert _threads.cgroup_cpu_quota(root, cgroup_file) == expected


def test_no_cgroups_means_no_quota(tmp_path):
    assert _threads.cgroup_cpu_quota(str(tmp_path / "none"), str(tmp_path / "missing")) is None


def test_a_quota_caps_the_automatic_budget():
    try:
        _runtime.set_quota(1)
        assert fastconv.get_threads() == 1 or _runtime.budget_setting() > 0
        assert fastconv.config()["cores_available"] == 1
    finally:
        _runtime.set_quota(_threads.cgroup_cpu_quota() or 0)


def test_set_threads_and_thread_limit():
    before = fastconv.get_threads()
    previous = fastconv.set_threads(3)
    try:
        assert fastconv.get_threads() == 3
        with fastconv.thread_limit(1):
            assert fastconv.get_threads() == 1
            image = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
            K = np.random.default_rng(1).uniform(-1, 1, (5, 5))
            assert fastconv.explain(image, K).threads == 1
            np.testing.assert_array_equal(fastconv.convolve(image, K), fastconv.convolve(image, K, threads=1))
        assert fastconv.get_threads() == 3
    finally:
        fastconv.set_threads(previous)
    assert fastconv.get_threads() == before


@pytest.mark.parametrize("bad, error, match", [
    (0, ValueError, "n must be a positive int or None"), (-2, ValueError, "positive"),
    (1.5, TypeError, "got float"), ("2", TypeError, "got str"), (True, TypeError, "got bool"),
])
def test_set_threads_refuses_bad_values(bad, error, match):
    with pytest.raises(error, match=match):
        fastconv.set_threads(bad)


def test_results_do_not_depend_on_the_budget():
    rng = np.random.default_rng(9)
    image = rng.standard_normal((301, 517)).astype(np.float32)
    for K in (rng.uniform(-1, 1, (7, 7)), rng.uniform(-1, 1, (25, 25)), fastconv.kernels.gaussian(11, 2.5)):
        results = []
        for budget in (1, 2, 5):
            with fastconv.thread_limit(budget):
                results.append(fastconv.convolve(image, K, output="float"))
        for r in results[1:]:
            np.testing.assert_array_equal(r, results[0])


def test_ctrl_c_interrupts_a_dask_computation():
    """fastconv.dask inherits it: SIGINT during a long .compute() raises KeyboardInterrupt in the main thread long
    before the computation would have ended, and the process filters again afterwards."""
    pytest.importorskip("dask")
    code = textwrap.dedent("""
        import time, numpy as np, dask, dask.array as da, fastconv, fastconv.dask
        image = da.random.default_rng(0).standard_normal((12000, 12000), chunks=2000)
        K = np.random.default_rng(1).uniform(-1, 1, (63, 63))
        lazy = fastconv.dask.convolve(image, K, output="float", accumulate="float64")
        print("ready", flush=True)
        start = time.perf_counter()
        try:
            with dask.config.set(scheduler="threads"):
                lazy.sum().compute()
            print("finished", time.perf_counter() - start, flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.perf_counter() - start, flush=True)
            small = np.random.default_rng(2).integers(0, 256, (30, 40), dtype=np.uint8)
            print("usable", np.array_equal(fastconv.convolve(small, K[:3, :3], threads=1),
                                          fastconv.convolve(small, K[:3, :3], threads=2)), flush=True)
        import os
        os._exit(0)      # the scheduler's worker threads may still be inside their current block
    """)
    lines = interrupt(code, after=2.0)
    assert float(lines[0].split()[1]) < 12.0, lines    # the whole computation takes minutes
    assert lines[1] == "usable True", lines
