"""Names the engine gives generated steps (no pyarrow here: ``dteg validate`` imports it)."""

from __future__ import annotations

# The name of the generated step that writes every stage's dead letters.
DEAD_LETTER_STEP = "dead_letter"
