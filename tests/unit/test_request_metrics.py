"""The request duration histogram's operation label: bounded however many names clients send, and each observation
counted under the label it belongs to (the per-name child is remembered, so a mix-up would show here)."""

from __future__ import annotations

import uuid

from server import metrics


def _count(label: str) -> float:
    for family in metrics.REQUEST_SECONDS.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels == {"operation": label}:
                return sample.value
    return 0.0


def test_every_observation_lands_under_its_own_label_and_the_labels_stay_bounded():
    names = [f"Op_{uuid.uuid4().hex[:12]}" for _ in range(metrics.MAX_OPERATIONS + 20)]
    before = {name: _count(name) for name in names}
    other, anonymous = _count("other"), _count("anonymous")
    for name in names:
        metrics.observe_request(name, 0.001, [])
        metrics.observe_request(name, 0.001, [])
    metrics.observe_request(None, 0.001, [])
    metrics.observe_request("", 0.001, [])
    metrics.observe_request("not a name!", 0.001, [])

    admitted = [name for name in names if _count(name) > before[name]]
    assert all(_count(name) == 2 for name in admitted)
    assert len(admitted) < len(names)  # the cap was reached: the rest went to "other"
    refused = len(names) - len(admitted)
    assert _count("other") - other == 2 * refused + 1
    assert _count("anonymous") - anonymous == 2
    labels = {s.labels["operation"] for f in metrics.REQUEST_SECONDS.collect() for s in f.samples}
    assert len(labels) <= metrics.MAX_OPERATIONS + 2  # the admitted names, "anonymous" and "other"
    assert len(metrics._timers) <= metrics.MAX_OPERATIONS + 2  # None, "" and the admitted names
