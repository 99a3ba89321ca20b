"""nbgrader configuration: the course directory is the repository root.

    solutions/<assignment>/   instructor sources: full solutions + hidden tests (committed)
    notebooks/<assignment>/   the student version nbgrader generates (committed)
    submitted/, autograded/, feedback/, gradebook.db   grading state (git-ignored)

See book/instructors.md for the commands.
"""
import os

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "genedu"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# Sources are authored as py:percent files paired with the .ipynb (reviewable diffs); the .py
# holds the solutions, so it must never be copied into the release or a submission.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]

# What a student sees in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Grading. Every chapter's notebook runs in about 10 s on a 2-core CPU, so a cell that runs
# for 60 s is stuck (an endless loop, say): interrupt it and grade the rest of the notebook.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# Keep megabytes of printed output out of the autograded notebooks and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50
