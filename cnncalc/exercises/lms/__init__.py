"""Quiz exports for learning-management systems (`cnncalc generate --format moodle|canvas|prairielearn`) and
the back-import of their response exports (`cnncalc grade --from`)."""

from __future__ import annotations

FORMATS = ("moodle", "canvas", "prairielearn")
