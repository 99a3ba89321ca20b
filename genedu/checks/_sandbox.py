"""The grader's sandbox: every kernel nbgrader starts to autograde a submission runs inside bubblewrap.

An answer runs with the rights of whoever grades. :class:`SandboxKernelManager` (set as
``c.Execute.kernel_manager_class`` in ``nbgrader_config.py``) starts the kernel as

    bwrap <a read-only view of the file system> --unshare-all --die-with-parent -- \\
        python -c <set rlimits, exec> python -m ipykernel_launcher -f <connection file>

- **file system**: everything read-only; the course directory (solutions/, submitted/, autograded/,
  feedback/, gradebook.db, .git), the grader's home and the repository that holds the course's own
  ``nbgrader_config.py`` are replaced by empty directories, then only what the kernel needs is put
  back read-only (the Python environment, the ``genedu`` package) plus, writable, the submission's
  own working directory (``autograded/<student>/<assignment>/``); ``/tmp`` and ``$HOME`` are
  private, empty and writable;
- **processes**: its own PID namespace; when nbgrader kills or loses the kernel, every process the
  answer started dies with it;
- **network**: none (its own network namespace with no interface). The kernel talks to nbgrader
  over ZeroMQ's ``ipc`` transport: Unix sockets in a directory private to this one kernel, bound
  into the sandbox (TCP on loopback would not cross the network namespace, and a shared runtime
  directory would show one student's kernel another's connection file and key);
- **resources**: an address-space limit (``RLIMIT_AS``) so that an answer allocating more memory
  than the machine has gets a ``MemoryError`` instead of the machine's OOM killer, and a CPU-time limit
  (``RLIMIT_CPU``) that kills a kernel which ignores the per-cell interrupt.

This module is loaded by ``nbgrader_config.py`` by its file path (it does not import ``genedu``
or torch, so that loading the configuration stays fast), and needs ``bwrap`` on PATH
(Debian/Ubuntu: ``apt-get install bubblewrap``). Where bwrap cannot run,
:func:`sandbox_available` says why, and the grader refuses to grade unless told
``GENEDU_GRADE_UNSANDBOXED=1`` (``nbgrader_config.py``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode

GIB = 1024 ** 3

# Applied inside the sandbox, then the kernel replaces this process (exec).
_LIMITS = ("import os, resource, sys\n"
           "a, c = (int(v) for v in sys.argv[1:3])\n"
           "resource.setrlimit(resource.RLIMIT_AS, (a, a))\n"
           "resource.setrlimit(resource.RLIMIT_CPU, (c, c + 5))\n"
           "os.execv(sys.argv[3], sys.argv[3:])\n")


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


def _course_roots(course_root: str) -> list[str]:
    """Directories to hide entirely: the course, the grader's home, and the repository of genedu
    when it is a course directory too (it holds solutions/ and .git)."""
    roots = [course_root, os.path.expanduser("~")]
    here = Path(__file__).resolve().parent.parent.parent  # the folder that holds genedu/
    if (here / "nbgrader_config.py").exists() or (here / "solutions").exists():
        roots.append(str(here))
    return [os.path.realpath(r) for r in roots if r and os.path.realpath(r) != "/"]


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in a bubblewrap sandbox (see the module docstring)."""

    course_root = Unicode("", help="The nbgrader course directory, hidden from the kernel.").tag(config=True)
    memory_limit = Integer(6 * GIB, help="Address-space limit of the kernel, in bytes (RLIMIT_AS).").tag(config=True)
    cpu_limit = Integer(600, help="CPU seconds a kernel may use in all (RLIMIT_CPU); then it is killed.").tag(config=True)
    extra_hidden = List(Unicode(), help="More paths to hide from the kernel.").tag(config=True)
    sandbox = Bool(True, help="False runs kernels unsandboxed (only for machines without bwrap).").tag(config=True)

    async def _async_pre_start_kernel(self, **kw):
        if self.sandbox:
            if not shutil.which("bwrap"):
                raise RuntimeError("The grader runs every kernel in a bubblewrap sandbox, and bwrap is not installed "
                                   "(Debian/Ubuntu: apt-get install bubblewrap). To grade notebooks you trust "
                                   "without it, set GENEDU_GRADE_UNSANDBOXED=1.")
            self._private = tempfile.mkdtemp(prefix="genedu-kernel-")
            os.chmod(self._private, 0o700)
            self.transport = "ipc"
            self.cache_ports = False
            self.ip = os.path.join(self._private, "ipc")
            self.connection_file = os.path.join(self._private, "kernel.json")
            mpl = os.path.join(self._private, "matplotlib")
            os.makedirs(mpl)
            # the font cache, so that each kernel does not rebuild it (a few seconds)
            try:
                import matplotlib
                for f in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
                    shutil.copy(f, mpl)
            except Exception:  # noqa: BLE001 - only a speed-up
                pass
            env = dict(kw.get("env") or os.environ)
            env.update(MPLCONFIGDIR=mpl, HOME="/tmp", MPLBACKEND=env.get("MPLBACKEND", "Agg"),
                       OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", JUPYTER_RUNTIME_DIR=self._private,
                       IPYTHONDIR=os.path.join(self._private, "ipython"))
            kw["env"] = env
        result = await super()._async_pre_start_kernel(**kw)
        if self.sandbox:
            # Interrupt through the control channel: a SIGINT sent to the kernel's process group
            # from outside would reach bwrap first, and end the whole sandbox.
            self.kernel_spec.interrupt_mode = "message"
        return result

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.sandbox:
            return cmd
        return self.wrap(cmd, cwd=self._launch_args.get("cwd") or os.getcwd())

    def wrap(self, cmd: list[str], cwd: str) -> list[str]:
        """``cmd`` run inside the sandbox, in working directory ``cwd``."""
        cwd = os.path.realpath(cwd)
        args = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--tmpfs", "/tmp", "--tmpfs", "/dev/shm", "--tmpfs", "/run", "--tmpfs", "/var/tmp"]
        hidden = _course_roots(self.course_root) + [os.path.realpath(p) for p in self.extra_hidden]
        course = Path(cwd).parents[2] if len(Path(cwd).parents) > 2 else None  # <course>/autograded/<student>/<a>
        if course and ((course / "gradebook.db").exists() or (course / "nbgrader_config.py").exists()):
            hidden.append(str(course))
        for path in dict.fromkeys(hidden):
            if os.path.isdir(path):
                args += ["--tmpfs", path]
            elif os.path.exists(path):
                args += ["--ro-bind", "/dev/null", path]
        # what the kernel needs, read-only: the Python environment(s) and genedu itself
        keep = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                str(Path(__file__).resolve().parent.parent)}
        for path in sorted(os.path.realpath(p) for p in keep):
            if os.path.exists(path) and path != "/":
                args += ["--ro-bind", path, path]
        args += ["--bind", self._private, self._private, "--bind", cwd, cwd, "--chdir", cwd,
                 "--unshare-all", "--die-with-parent", "--hostname", "sandbox",
                 # ipykernel would watch for its parent, which it cannot see from its own PID namespace
                 "--unsetenv", "JPY_PARENT_PID", "--"]
        limits = [sys.executable, "-c", _LIMITS, str(self.memory_limit), str(self.cpu_limit)]
        return args + limits + [cmd[0] if os.path.isabs(cmd[0]) else shutil.which(cmd[0]) or cmd[0]] + cmd[1:]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        private = getattr(self, "_private", None)
        if private and not restart:
            shutil.rmtree(private, ignore_errors=True)


def describe() -> str:
    """One line for logs: whether kernels are sandboxed."""
    ok, why = sandbox_available()
    return json.dumps({"sandbox": ok, "detail": why})


def load_guard():
    """genedu/checks/_guard.py, loaded by its file path (without importing genedu and torch)."""
    import importlib.util
    name = "genedu_grader_guard"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / "_guard.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def guard_preprocessor():
    """The nbgrader preprocessor that inspects students' code cells before execution (see _guard.py).

    Runs in nbgrader's sanitize step, after ``OverwriteCells`` has restored the read-only cells
    from the instructor's source: every other code cell is inspected, and one that is refused is
    replaced by a cell that raises with the reasons (recorded in the autograded notebook, so the
    feedback shows them).
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.preprocessors import NbGraderPreprocessor

    guard = load_guard()

    class GuardCode(NbGraderPreprocessor):
        def preprocess(self, nb, resources):
            exercise: dict[str, set[str]] = {}
            try:
                with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                    notebook = gb.find_notebook(resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"])
                    for cell in notebook.source_cells:
                        exercise[cell.name] = guard.function_names(cell.source)
            except (KeyError, MissingEntry):
                pass
            code = [c for c in nb.cells if c.cell_type == "code"]
            locked = [c for c in code if _trusted(c, exercise)]
            protected, modules = guard.notebook_context([c.source for c in locked], [c.source for c in code])
            for cell in code:
                if _trusted(cell, exercise):
                    continue
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                reasons = guard.inspect_code(cell.source, protected, modules, exercise.get(gid, set()))
                if reasons:
                    self.log.warning("refused a cell (%s): %s", gid or "no grade_id", "; ".join(reasons))
                    cell.source = guard.rejected_cell(cell.source, reasons)
            return nb, resources

    return GuardCode


def _trusted(cell, known: dict) -> bool:
    """A read-only cell of the instructor's source, which ``OverwriteCells`` has just restored (it
    resets ``locked`` and the source of every cell whose grade_id the gradebook knows)."""
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("locked")) and meta.get("grade_id") in known


def feedback_preprocessor():
    """The nbgrader preprocessor that keeps hidden tests out of the feedback.

    nbgrader's ``ClearHiddenTests`` (also in the feedback pipeline) removes the hidden tests' source,
    but an error raised by a hidden test still carries a traceback that quotes the failing line
    (the call with its hidden seed and sizes). In the cells that hold hidden tests this replaces
    each traceback by its last line, the check's message (what is wrong, and why), which is what
    the student needs.
    """
    from nbgrader.preprocessors import NbGraderPreprocessor

    class HideHiddenTraces(NbGraderPreprocessor):
        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
            return cell, resources

    return HideHiddenTraces
