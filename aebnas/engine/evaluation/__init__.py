"""Evaluation: from an architecture to measured numbers. Training (joint, or fast on a frozen backbone's
cached features), cached per-exit outputs, threshold tuning and the accuracy-vs-average-MACs curve."""

from aebnas.engine.evaluation.backbone import FrozenBackbone
from aebnas.engine.evaluation.candidate import (CandidateResult, CandidateSummary, SavedCandidate, TunedPair,
                                                save_candidate, train_candidate)
from aebnas.engine.evaluation.outputs import CandidateOutputs, ExitOutputs
from aebnas.engine.evaluation.thresholds import CURVES, TradeoffCurve, TunedThresholds, tradeoff_curve, tune
from aebnas.engine.evaluation.training import TrainConfig, TrainHistory, train_joint

__all__ = [
    "CURVES", "CandidateOutputs", "CandidateResult", "CandidateSummary", "ExitOutputs", "FrozenBackbone",
    "SavedCandidate", "TradeoffCurve", "TrainConfig", "TrainHistory", "TunedPair", "TunedThresholds",
    "save_candidate", "tradeoff_curve", "train_candidate", "train_joint", "tune",
]
