"""Latency profiling: a latency table of every part a search space combines, measured on this machine, and
the error of composing path latency from it (:class:`aebnas.search_space.latency.LatencyTable`)."""

from aebnas.engine.profile.parts import branch_parts, check_latency_table, layer_choices
from aebnas.engine.profile.profile import RUNTIMES, Timer, check_composition, profile_space

__all__ = ["RUNTIMES", "Timer", "branch_parts", "check_composition", "check_latency_table", "layer_choices", "profile_space"]
