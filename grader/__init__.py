"""The course's grader: instructor tooling, not part of the genedu library students install.

A submission is graded in two processes that trust each other in one direction only:

- the **probe** (``probe.py``), in a bubblewrap sandbox (``sandbox.py``) with a genedu whose
  exercise references are removed (``stubs.py``), runs the notebook's cells and calls the student's
  functions on the inputs the grader chooses; it only computes;
- the **grader** (``session.py``, ``remote.py``, ``judge.py``), in nbgrader's process, drives the
  probe (``session.py``: the cells, their time, restarts) and runs each test cell of the
  instructor's notebook: genedu's checks build the inputs, compute the expected values with the
  reference, and judge the plain data the probe returns (``wire.py``: never a pickle from the
  sandbox). The verdict becomes the test cell's output, which nbgrader scores.

``nbgrader_plugins.py`` plugs this into nbgrader's autograde (``nbgrader_config.py``);
``autograde.py`` runs nbgrader's autograde with the first probe started before nbgrader is
imported; ``scripts/grade.py`` grades a class in parallel with it.
"""
