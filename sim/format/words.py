"""Numbers in words: "1 day", "2 days" (never "1 days")."""
from __future__ import annotations


def plural(count, word: str, words: str | None = None, spec: str = "") -> str:
    """`count` and the noun that agrees with it; `spec` formats the number (",": 1,000)."""
    noun = word if count == 1 else (words or word + "s")
    return f"{count:{spec}} {noun}"
