"""The inspector workbench and the lender API (`credence inspect`, CONTRACT.md section 6).

An adapter at the top of the layering: it reads the contract's output topics and ``decisions``
into a read model in Redis (`readmodel`, fed by `feed`), serves server-rendered pages and a JSON
API over aiohttp (`app`, `api`), and writes nothing but ``decisions`` (`decisions`), as the
inspector principal. One concept per module:

* `auth` - workbench users (scrypt), sessions, signed cookies, CSRF tokens, lender tokens;
* `readmodel` - open alerts, cases, assignments, notes, listings, scores and the audit trail;
* `feed` - the Kafka consumer that keeps the read model up to date (and rebuilds it);
* `decisions` - producing an inspector's decision;
* `plots` - small inline SVG charts;
* `app` - the pages; `api` - the lender API and its OpenAPI document;
* `export` - the daily file for the central credit registry.
"""

from __future__ import annotations

__all__: list[str] = []
