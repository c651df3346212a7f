"""config/schemas/*.schema.json are generated from the contract models and kept in sync."""

from __future__ import annotations

from credence.schemas import SCHEMA_DIR, render, topic_schemas


def test_schema_files_match_the_models():
    schemas = topic_schemas()
    assert set(schemas) == {"orders", "reviews", "records", "decisions", "alerts", "blacklist",
                            "credit-scores", "dead-letters"}
    for topic, schema in schemas.items():
        path = SCHEMA_DIR / f"{topic}.schema.json"
        assert path.exists(), f"missing {path}; run python -m credence.schemas"
        assert path.read_text() == render(schema), \
            f"{path.name} is stale; run python -m credence.schemas"


def test_orders_schema_accepts_both_event_types_and_both_time_forms():
    orders = topic_schemas()["orders"]
    kinds = {v["properties"]["type"]["const"] for v in orders["oneOf"]}
    assert kinds == {"order", "refund"}
    ts = orders["oneOf"][0]["properties"]["ts"]["anyOf"]
    assert {t["type"] for t in ts} == {"string", "integer"}
