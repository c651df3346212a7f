"""The lender API: a seller's credit score over HTTP, for lenders with a bearer token.

``GET /api/v1/sellers/{id}/score`` answers 401 without a valid token (CONTRACT.md section 6),
404 for a seller without a score, and otherwise seller_id, score, band, listed, reasons (code and
words), history (ts, score), previous and ts. ``GET /api/v1/openapi.json`` is the OpenAPI 3.1
document (its schemas are JSON Schema), public like any API description.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

__all__ = ["add_api_routes", "OPENAPI", "SCORE_SCHEMA"]

SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["seller_id", "score", "band", "listed", "reasons", "history"],
    "properties": {
        "seller_id": {"type": "string"},
        "score": {"type": "integer", "minimum": 350, "maximum": 950},
        "band": {"type": "string", "enum": ["A", "B", "C", "D", "E"],
                 "description": "A: 800-950, B: 700-799, C: 600-699, D: 500-599, E: 350-499"},
        "listed": {"type": "boolean",
                   "description": "on the blacklist now (automatically or by an inspector)"},
        "previous": {"type": ["integer", "null"]},
        "ts": {"type": "string", "format": "date-time",
               "description": "event time of the latest score"},
        "reasons": {"type": "array", "maxItems": 4, "items": {
            "type": "object", "required": ["code", "text"],
            "properties": {"code": {"type": "string"}, "text": {"type": "string"}}}},
        "history": {"type": "array", "description": "newest first", "items": {
            "type": "object", "required": ["ts", "score"],
            "properties": {"ts": {"type": "string", "format": "date-time"},
                           "score": {"type": "integer"}}}},
    },
}
_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Credence lender API", "version": "1.0.0",
             "description": "Credit scores (350-950) of SME sellers, with manipulation "
                            "removed, and whether they are blacklisted."},
    "components": {
        "securitySchemes": {"lender": {"type": "http", "scheme": "bearer",
                                       "description": "a token from `credence inspect "
                                                      "lenders add NAME`"}},
        "schemas": {"SellerScore": SCORE_SCHEMA, "Error": _ERROR},
    },
    "security": [{"lender": []}],
    "paths": {"/api/v1/sellers/{seller_id}/score": {"get": {
        "summary": "A seller's current credit score, its reasons and its history",
        "parameters": [{"name": "seller_id", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 256}}],
        "responses": {
            "200": {"description": "the score", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/SellerScore"}}}},
            "401": {"description": "no or unknown bearer token", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "404": {"description": "no score for this seller", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        }}}},
}


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def add_api_routes(app: web.Application, lenders: Any, model: Any) -> None:
    """Routes of the lender API, answering from the workbench's lender tokens and read model
    (given here, so this module needs nothing of the pages' module)."""

    def lender_of(request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return lenders.lender_of(token.strip())

    async def seller_score(request: web.Request) -> web.Response:
        if lender_of(request) is None:
            return web.json_response({"error": "a lender's bearer token is required"},
                                     status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="credence"'})
        seller = request.match_info["seller_id"]
        found = await asyncio.to_thread(model.seller_score, seller)
        if found is None:
            return web.json_response({"error": f"no score for seller {seller!r}"}, status=404)
        return web.json_response(found)

    app.router.add_get("/api/v1/sellers/{seller_id}/score", seller_score)
    app.router.add_get("/api/v1/openapi.json", openapi)
