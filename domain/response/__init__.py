"""Tumour response under RECIST 1.1 and mRECIST: reads, checks, time-point and best response."""

from domain.response.baseline import baseline_problems, followup_problems, has_measurable_disease
from domain.response.best import (
    BestOverallResponse,
    best_overall_response,
    first_progression_on,
    reads_counted,
)
from domain.response.reads import NewLesion, NonTargetLesion, Read, TargetLesion
from domain.response.responses import NonTargetResponse, Response
from domain.response.timepoint import TimepointResponse, evaluate

__all__ = [
    "BestOverallResponse",
    "NewLesion",
    "NonTargetLesion",
    "NonTargetResponse",
    "Read",
    "Response",
    "TargetLesion",
    "TimepointResponse",
    "baseline_problems",
    "best_overall_response",
    "evaluate",
    "first_progression_on",
    "followup_problems",
    "has_measurable_disease",
    "reads_counted",
]
