"""Curves of a relearning attack (Siddiqui et al., "From Dormant to Deleted: Tamper-Resistant Unlearning Through
Weight-Space Regularization", 2025; unlearn_bench/attacks/ runs the fine-tuning): the forget accuracy (%) before the
first step and after fine-tuning steps. Pure functions of such curves."""

from __future__ import annotations

import numpy as np


def curve_area(curve: np.ndarray, at: np.ndarray | None = None) -> float:
    """Area under the forget-accuracy curve over the fine-tuning steps (trapezoid rule over the steps ``at`` which it
    was measured, default 0, 1, 2, ...), divided by the number of steps: the mean forget accuracy during the attack, in
    % (0 = never recovered, 100 = recovered at once). A method that resists relearning keeps it near Retrain's."""
    curve = np.asarray(curve, np.float64)
    if curve.ndim != 1 or len(curve) < 2:
        raise ValueError(f"a curve needs the value before the attack and after >= 1 step, got shape {curve.shape}")
    at = np.arange(len(curve), dtype=np.float64) if at is None else np.asarray(at, np.float64)
    return float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(at)) / (at[-1] - at[0]))


def recovered(curve: np.ndarray) -> float:
    """Forget accuracy gained by the attack: after the last step minus before the first, in percentage points."""
    curve = np.asarray(curve, np.float64)
    return float(curve[-1] - curve[0])
