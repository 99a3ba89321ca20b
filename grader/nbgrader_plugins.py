"""The grader's nbgrader preprocessors (configured in ``nbgrader_config.py``).

- :class:`JudgedExecute` replaces nbgrader's ``Execute`` in autograde: it runs the notebook's cells
  in the sandboxed probe (their outputs go into the autograded notebook, as a kernel's would), then
  judges every test cell in the grader's own process (``judge.py``) and writes the verdict as that
  cell's output: the check's message as an error (nbgrader scores the cell 0), or its passed lines.
  Test cells are judged after the whole notebook has run, so a test cell moved above its answer
  still finds it.
- :class:`DeduplicateIds` fixes nbgrader's for a cell pasted twice (its copies lose their ids).
- :class:`HideHiddenTraces` keeps hidden tests out of the feedback (with nbgrader's
  ``ClearHiddenTests``).
"""
from __future__ import annotations

import os
import time

from nbgrader.preprocessors import DeduplicateIds as _DeduplicateIds
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from grader.autograde import LIMITS
from grader.autograde import options as probe_options


def prestart(config) -> None:
    """Start the first notebook's probe from ``nbgrader_config.py``, while nbgrader itself starts
    (``python -m grader.autograde`` starts it sooner still: ``autograde.py``)."""
    from grader import autograde
    autograde.start_spare(JudgedExecute(config=config).options())


class JudgedExecute(NbGraderPreprocessor):
    """Run the notebook in the sandbox; judge its test cells in the grader."""

    course_root = Unicode("", help="The nbgrader course directory, hidden from the probe.").tag(config=True)
    timeout = Float(60, help="Seconds a cell, or one call of a check, may run.").tag(config=True)
    budget = Float(120, help="Seconds the whole notebook may take; past them the rest gets no marks.").tag(config=True)
    sandbox = Bool(True, help="False runs submissions unsandboxed (only for notebooks you trust).").tag(config=True)
    memory_limit = Integer(LIMITS["memory"], help="Address space of the probe, in bytes.").tag(config=True)
    cpu_limit = Integer(LIMITS["cpu"], help="CPU seconds the probe may use in all.").tag(config=True)
    file_size_limit = Integer(LIMITS["file_size"], help="The largest file the probe may write, in bytes."
                              ).tag(config=True)
    tmp_size = Integer(LIMITS["tmp_size"], help="Size of the probe's private /tmp (its working folder), in bytes."
                       ).tag(config=True)
    process_limit = Integer(LIMITS["processes"], help="Processes (threads included) the probe may run."
                            ).tag(config=True)

    def options(self) -> dict:
        """How the probe is started (what ``prestart`` and ``preprocess`` must agree on)."""
        return probe_options(self.course_root or os.getcwd(), self.sandbox,
                             dict(memory=self.memory_limit, cpu=self.cpu_limit, file_size=self.file_size_limit,
                                  processes=self.process_limit, tmp_size=self.tmp_size))

    def preprocess(self, nb, resources: dict):
        from grader import autograde, judge

        clock = time.perf_counter()
        sources = [c.source for c in nb.cells if judge.is_test(c)]
        folder = resources.get("metadata", {}).get("path") or os.getcwd()
        options = self.options()
        try:
            session = judge.open_session(folder, options["course_root"], sources, cell_timeout=self.timeout,
                                         budget=self.budget, sandboxed=self.sandbox, limits=options["limits"],
                                         started=autograde.take_spare(options))
        except judge.TestCellError as err:
            raise RuntimeError(f"the instructor's test cells cannot be judged: {err}") from None
        try:
            for gid, verdict in judge.run_notebook(session, nb.cells).items():
                if not verdict.passed:
                    self.log.info("%s: %s", gid, verdict.message)
        finally:
            session.close()
        self.log.info("judged %d test cells in %.1f s (%d restarts of the probe)", len(sources),
                      time.perf_counter() - clock, session.restarts)
        return nb, resources


class DeduplicateIds(_DeduplicateIds):
    """nbgrader's ``DeduplicateIds`` (of cells with the same grade_id, the last keeps its nbgrader
    metadata), except that the others lose that metadata entirely: nbgrader 0.9.6 leaves an empty
    ``nbgrader`` dict, on which ``OverwriteCells`` (add_missing_cells) raises a KeyError, so one test
    cell pasted twice used to zero the whole notebook."""

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.get("metadata", {}).get("nbgrader") == {}:
            del cell.metadata["nbgrader"]
        return cell, resources


class HideHiddenTraces(NbGraderPreprocessor):
    """In the cells that hold hidden tests, each error's traceback becomes its last line (the
    verdict's message): a traceback could quote the hidden line."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and "BEGIN HIDDEN TESTS" in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
