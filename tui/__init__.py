"""Escalation Ladder's terminal app (Textual). Builds on `sim`; `sim` never imports this."""
