"""Producers: a marketplace simulator with ground-truth manipulation, a file producer, and a
Bitcoin-Alpha converter, all writing contract events (CONTRACT.md section 1).

Modules: `scenario` (counts and intensities), `marketplace` (honest background), `patterns`
and `negatives` (injected manipulation and hard negatives, behind `base`), `ledger` (events,
ids, time order), `truth` (truth.json), `simulator` (assembly and files), `publisher` (Kafka),
`bitcoin_alpha` (real background), `cli` (`credence simulate`, `credence produce`).
"""

from __future__ import annotations

__all__: list[str] = []
