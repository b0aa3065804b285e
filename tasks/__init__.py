"""The task scripts: one short script per task (``python -m tasks.copy``), on one harness.

Every script is a config dataclass, a model, a `memnets.training.Task`, `memnets.training.fit`
and the shared epilogue of `tasks._harness`; the code that several scripts share lives in the
``tasks/_*.py`` helpers, and no script imports another.
"""
