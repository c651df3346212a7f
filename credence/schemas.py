"""JSON Schemas of the contract's topics, generated from the models in `credence.contract`.

``python -m credence.schemas`` rewrites ``config/schemas/<topic>.schema.json``;
tests/unit/test_schemas.py fails when the files and the models disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from credence.contract import (
    EVENT_MODELS,
    TOPIC_OF_TYPE,
    Alert,
    BlacklistEntry,
    CreditScore,
    DeadLetter,
)

__all__ = ["topic_schemas", "write", "SCHEMA_DIR"]

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "config" / "schemas"
_OUT = {"alerts": Alert, "blacklist": BlacklistEntry, "credit-scores": CreditScore,
        "dead-letters": DeadLetter}


def topic_schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    topics: dict[str, list[str]] = {}
    for kind, topic in TOPIC_OF_TYPE.items():
        topics.setdefault(topic, []).append(kind)
    for topic, kinds in sorted(topics.items()):
        variants = [EVENT_MODELS[k].model_json_schema(mode="validation") for k in kinds]
        for v, k in zip(variants, kinds, strict=True):
            v["properties"]["type"] = {"const": k}
            v.setdefault("required", []).insert(0, "type")
        schema: dict[str, Any] = variants[0] if len(variants) == 1 else {"oneOf": variants}
        out[topic] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                      "title": f"{topic} (input)", **schema}
    for topic, model in _OUT.items():
        out[topic] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                      **model.model_json_schema(mode="serialization"),
                      "title": f"{topic} (output)"}
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for topic, schema in topic_schemas().items():
        p = directory / f"{topic}.schema.json"
        p.write_text(render(schema))
        paths.append(p)
    return paths


if __name__ == "__main__":  # pragma: no cover
    for path in write():
        print(path)
