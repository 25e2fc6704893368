"""Eval datasets: loading, validation and content hashing of JSONL case files.

Used alike by ``evals`` (quality runs), ``perf`` (prompts for load) and ``safety``.
"""

from nova.datasets._dataset import (
    GRADER_NAMES,
    Case,
    CaseMessage,
    Dataset,
    DatasetInfo,
    Expectation,
    Reference,
    dataset_files,
    load_dataset,
    scan_dataset,
    stream_dataset,
)
from nova.datasets._jsonl import jsonl_models

__all__ = [
    "GRADER_NAMES",
    "Case",
    "CaseMessage",
    "Dataset",
    "DatasetInfo",
    "Expectation",
    "Reference",
    "dataset_files",
    "jsonl_models",
    "load_dataset",
    "scan_dataset",
    "stream_dataset",
]
