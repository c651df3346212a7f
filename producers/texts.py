"""Review texts: varied ones from genuine reviewers, near-duplicates from farms and bombers.

Genuine texts combine fragments freely, so two honest reviews rarely match; a farm or a bombing
crew works from one script with a few words swapped, which is what makes their texts near
duplicates of each other.
"""

from __future__ import annotations

from typing import Literal

from numpy.random import Generator

__all__ = ["Script", "honest_text", "script", "scripted_text"]

Script = Literal["praise", "attack"]

_GOOD = ("good quality", "fast delivery", "exactly as described", "well packed",
         "great value for money", "seller was helpful", "will buy again", "my kid loves it",
         "fits perfectly", "works fine so far", "nice colour", "arrived earlier than expected",
         "second time buying here", "better than in the shop", "solid build")
_MID = ("ok for the price", "delivery took a while", "a bit smaller than I thought",
        "does the job", "packaging was damaged but item fine", "average quality",
        "colour slightly different from the photo", "not bad, not great")
_BAD = ("broke after two days", "not as described", "seller never answered",
        "cheap material", "wrong size sent", "smells strange", "arrived late and damaged",
        "waste of money", "refund took forever", "missing parts")
_TAILS = ("", "", "", ".", "!", " :)", ", thanks", ", recommended", ", 5 stars")

_PRAISE_OPEN = ("Excellent product", "Amazing quality", "Super fast shipping", "Perfect item",
                "Very satisfied", "Highly recommend")
_PRAISE_BODY = ("the seller is very professional and the item is exactly as shown",
                "great quality and the delivery was super fast",
                "packaging was perfect and the product works great",
                "best purchase this year, the quality is really good")
_PRAISE_CLOSE = ("will definitely buy again!", "five stars!", "highly recommended!",
                 "everyone should buy this!")
_ATTACK_OPEN = ("Terrible", "Worst seller ever", "Total scam", "Do not buy", "Awful experience")
_ATTACK_BODY = ("the product is fake and the seller refuses any refund",
                "item broke immediately and customer service ignored me",
                "this shop sells counterfeit goods and lies to buyers",
                "received a fake product, the seller is a cheater")
_ATTACK_CLOSE = ("stay away!", "avoid this shop!", "reported to the platform!",
                 "never again!")


def honest_text(rng: Generator, rating: int) -> str | None:
    """A genuine review text, or None (most buyers leave only stars)."""
    if rng.random() < 0.45:
        return None
    pool = _GOOD if rating >= 4 else _MID if rating == 3 else _BAD
    k = 1 + int(rng.random() < 0.5) + int(rng.random() < 0.2)
    picks = rng.choice(len(pool), size=min(k, len(pool)), replace=False)
    text = ", ".join(pool[i] for i in picks.tolist())
    return text[0].upper() + text[1:] + _TAILS[int(rng.integers(len(_TAILS)))]


def script(rng: Generator, kind: Script) -> tuple[int, int]:
    """The script of one crew: which body sentence it copies."""
    bodies = _PRAISE_BODY if kind == "praise" else _ATTACK_BODY
    return int(rng.integers(len(bodies))), int(rng.integers(1 << 30))


def scripted_text(rng: Generator, kind: Script, crew: tuple[int, int]) -> str:
    """A near-duplicate of the crew's script: same body, an opener and closer from a short list."""
    opens, bodies, closes = ((_PRAISE_OPEN, _PRAISE_BODY, _PRAISE_CLOSE) if kind == "praise"
                             else (_ATTACK_OPEN, _ATTACK_BODY, _ATTACK_CLOSE))
    body = bodies[crew[0]]
    if rng.random() < 0.3:
        body = body.replace(" and ", ", ")
    o = opens[int(rng.integers(len(opens)))]
    c = closes[int(rng.integers(len(closes)))]
    return f"{o}! {body}, {c}"
