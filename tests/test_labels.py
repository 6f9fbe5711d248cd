"""Roster labels: which name the report shows for a model."""

from __future__ import annotations

from sycobench.report.collect import _unique_labels, job_label


def test_labels_keep_the_job_overrides() -> None:
    assert job_label("Mock A", ["model.sycophancy=0.6", "scenario.limit=3"]) == "Mock A [model.sycophancy=0.6]"


def test_a_label_shared_by_two_models_falls_back_to_the_ids() -> None:
    labels = {"openai/gpt-4o-mini": "GPT-4o mini", "a/x": "Same", "b/y": "Same", "c/z": "c/z"}
    assert _unique_labels(labels) == {"openai/gpt-4o-mini": "GPT-4o mini"}
