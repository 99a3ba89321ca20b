"""The sandbox a submission runs in: bubblewrap around the probe (``probe.py``).

``command()`` builds

    bwrap <a read-only view of the file system> --unshare-all --die-with-parent -- \\
        python probe.py <fds> <limits>

- **file system**: everything read-only. The course directory (solutions/, submitted/,
  autograded/, feedback/, gradebook.db, .git), the grader's home and the repository holding genedu
  are replaced by empty directories; then only what the probe needs is put back, read-only: the
  Python environment, the grader's ``probe.py``/``wire.py``, and genedu *with the references of
  the notebook's exercises removed* (``stubs.py``); the submission's folder at ``/run/submission``,
  which the probe copies into ``/tmp/work`` to run there. Both are folders of the probe's private
  folder, filled by :func:`fill` after the probe has started (so that a probe can import torch
  while nbgrader is still starting, before the grader knows the submission). ``/tmp`` (and
  ``/dev/shm``) are private tmpfs of a fixed size, so everything an answer writes is capped and
  vanishes with the process;
- **processes**: its own PID namespace: when the probe ends, every process it started ends;
- **network**: none (its own network namespace, no interface);
- **resources** (set by the probe on itself before any student code runs): address space, CPU
  seconds, the size of any file written, the number of processes; the grader adds a wall-clock
  limit per cell and per notebook;
- **environment**: an allowlist (PATH, HOME=/tmp, LANG, the thread counts, matplotlib's backend);
  nothing of the grader's environment (tokens, credentials) reaches the student's code.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

GRADER = Path(__file__).resolve().parent
GIB, MIB = 1024 ** 3, 1024 ** 2


def sandbox_available() -> tuple[bool, str]:
    """Whether bwrap can start a sandbox here, and if not, why."""
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return False, "bwrap (bubblewrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return False, f"bwrap cannot create namespaces here: {probe.stderr.strip()}"
    return True, "bwrap works"


def environment(private: str, sandbox: bool = True) -> dict[str, str]:
    """The probe's whole environment: an allowlist, nothing inherited."""
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline", "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "TQDM_DISABLE": "1",
    }
    if not sandbox:  # no private /tmp: keep the probe's files in a folder of its own
        env["TMPDIR"] = env["HOME"] = os.path.join(private, "tmp")
        env["MPLCONFIGDIR"] = os.path.join(private, "tmp", "matplotlib")
    if os.environ.get("VIRTUAL_ENV"):
        env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
    return env


def genedu_folder() -> Path:
    """The installed genedu package's folder (found without importing it)."""
    import importlib.util
    return Path(list(importlib.util.find_spec("genedu").submodule_search_locations)[0]).resolve()


def submission_module():
    """The installed ``genedu.checks.submission`` (the repair of students' slips, standard library
    only), loaded from its file: importing it through genedu would import torch, which the grader's
    process needs only later (and then in the background, while the probe runs the notebook)."""
    import importlib.util
    import sys
    name = "genedu_submission"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, genedu_folder() / "checks" / "submission.py")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def _hidden(course_root: str) -> list[str]:
    roots = [course_root, os.path.expanduser("~"), str(GRADER.parent)]
    here = genedu_folder().parent  # the installed package's repository, when it is a course directory too
    if (here / "nbgrader_config.py").exists() or (here / "solutions").exists():
        roots.append(str(here))
    return [os.path.realpath(r) for r in dict.fromkeys(roots) if r and os.path.realpath(r) != "/"]


def command(*, course_root: str, private: str, fds: tuple[int, int], memory: int = 6 * GIB, cpu: int = 600,
            file_size: int = 256 * MIB, processes: int = 256, tmp_size: int = 512 * MIB,
            sandbox: bool = True) -> list[str]:
    """The command line that starts a probe whose submission and genedu are those :func:`fill` puts in
    ``private``, sandboxed unless ``sandbox`` is False (only for notebooks the instructor trusts, on
    machines without bwrap; the probe then imports the installed genedu)."""
    probe = [sys.executable, "-s", str(GRADER / "probe.py"), str(fds[0]), str(fds[1]),
             str(memory), str(cpu), str(file_size), str(processes),
             "/run/submission" if sandbox else os.path.join(private, "submission"), private]
    if not sandbox:
        return probe
    bwrap = shutil.which("bwrap")
    if not bwrap:
        raise RuntimeError("The grader runs every submission in a bubblewrap sandbox, and bwrap is not installed "
                           "(Debian/Ubuntu: apt-get install bubblewrap). To grade notebooks you trust without it, "
                           "set GENEDU_GRADE_UNSANDBOXED=1.")
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(tmp_size), "--tmpfs", "/tmp", "--size", str(64 * MIB), "--tmpfs", "/dev/shm",
            "--tmpfs", "/run", "--tmpfs", "/var/tmp"]
    for path in _hidden(course_root):
        if os.path.isdir(path):
            args += ["--tmpfs", path]
        elif os.path.exists(path):
            args += ["--ro-bind", "/dev/null", path]
    keep = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for path in sorted(os.path.realpath(p) for p in keep):
        if os.path.exists(path) and path != "/":
            args += ["--ro-bind", path, path]
    package = str(genedu_folder())
    args += ["--ro-bind", os.path.join(private, "genedu"), package, "--ro-bind", str(GRADER), str(GRADER),
             "--ro-bind", os.path.join(private, "submission"), "/run/submission", "--ro-bind", private, private,
             "--chdir", "/tmp", "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox", "--"]
    return args + probe


def private_folder() -> str:
    """A fresh folder for one probe's files (its stderr, a copy of matplotlib's font cache, so that
    the sandbox does not rebuild it, and the folders :func:`fill` fills); the caller removes it."""
    private = tempfile.mkdtemp(prefix="genedu-probe-")
    os.chmod(private, 0o755)
    for folder in ("tmp", "submission", "genedu"):
        os.makedirs(os.path.join(private, folder))
    target = os.path.join(private, "matplotlib")
    os.makedirs(target)
    cache = os.environ.get("MPLCONFIGDIR") or os.path.join(os.path.expanduser("~"), ".cache", "matplotlib")
    for f in glob.glob(os.path.join(cache, "fontlist-*.json")):
        shutil.copy(f, target)
    return private


def fill(private: str, submission: str, genedu_copy: str, limit: int = 512 * MIB) -> None:
    """Put the submission's folder and the (stubbed) genedu ``genedu_copy`` into the private folder
    of a started probe, which sees them read-only. Only regular files and folders are copied, never
    followed links, and at most ``limit`` bytes of the submission (the probe's /tmp could not hold
    more); a second call does nothing."""
    done, target = os.path.join(private, "filled"), os.path.join(private, "submission")
    if os.path.exists(done):
        return
    shutil.copytree(genedu_copy, os.path.join(private, "genedu"), dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    total = 0
    for folder, dirs, files in os.walk(submission):
        here = os.path.join(target, os.path.relpath(folder, submission))
        os.makedirs(here, exist_ok=True)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            total += os.path.getsize(path)
            if total > limit:
                raise OSError(f"the submission's folder holds more than {limit // MIB} MiB")
            shutil.copyfile(path, os.path.join(here, name))
    open(done, "w").close()


def begin(private: str, started: "Started", submission: str, genedu_copy: str, limit: int = 512 * MIB) -> None:
    """:func:`fill` the private folder of the started probe and tell it to go on (it then copies the
    submission, imports genedu and says it is ready). Raises OSError if the folder cannot be filled."""
    from grader import wire
    fill(private, submission, genedu_copy, limit)
    wire.send(started.wfd, wire.dumps(("begin",), {}))


@dataclass
class Started:
    process: subprocess.Popen
    rfd: int                 # replies from the probe
    wfd: int                 # requests to the probe
    stderr: object           # the file its stdout and stderr go to


def start(*, private: str, generation: int = 0, sandbox: bool = True, **options) -> Started:
    """Start the probe (``command``'s options); it talks over two pipes of its own."""
    to_probe_r, to_probe_w = os.pipe()
    from_probe_r, from_probe_w = os.pipe()
    cmd = command(private=private, fds=(to_probe_r, from_probe_w), sandbox=sandbox, **options)
    stderr = open(os.path.join(private, f"stderr-{generation}.txt"), "wb")
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                               pass_fds=(to_probe_r, from_probe_w), env=environment(private, sandbox),
                               cwd=private, start_new_session=True)
    os.close(to_probe_r)
    os.close(from_probe_w)
    return Started(process, from_probe_r, to_probe_w, stderr)


def stop(private: str, started: Started) -> None:
    """End a probe that will not be used, and remove its private folder."""
    kill(started)
    shutil.rmtree(private, ignore_errors=True)


def kill(started: Started) -> None:
    """End the probe (and every process it started) and close its pipes and its stderr file."""
    try:
        os.killpg(started.process.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    started.process.wait()
    for fd in (started.rfd, started.wfd):
        try:
            os.close(fd)
        except OSError:
            pass
    started.stderr.close()
