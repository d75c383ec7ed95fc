"""Practice: whole new questions at a chosen level, with their keys, hints, worked solutions and slips
from the calculator (:mod:`.questions`), asked one at a time in a terminal (:mod:`.terminal`) or as a
sheet that checks itself in the browser (:mod:`.sheet`)."""

from __future__ import annotations

from .questions import FEATURE_LEVEL, LEVELS, TEMPLATES, TOPICS, PracticeQuestion, features_of, generate, level_of

__all__ = ["FEATURE_LEVEL", "LEVELS", "TEMPLATES", "TOPICS", "PracticeQuestion", "features_of", "generate",
           "level_of"]
