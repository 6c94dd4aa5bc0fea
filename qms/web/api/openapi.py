"""The OpenAPI 3.1 description of API v1, served at /api/v1/openapi.json.

Every schema is generated from a typed model: the request bodies' from the models that
check them (qms/web/api/payloads.py, qms/services/portal_shape.py), so a rule and its
description cannot drift; the answers' from qms/web/api/answers.py,
which tests/api/test_openapi.py checks real answers against, with the document's validity
(OpenAPI 3.1) and every API route being in it. The paths are written here.
"""
from __future__ import annotations

import copy
from functools import cache

from qms.services.sync import BATCH_MAX


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema_name)}}}


UNAUTHORIZED = {**_error("No token, an unknown or revoked token, or the token's account is "
                         "deactivated. The session cookie is never accepted."),
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"},
                                                 "description": 'Bearer realm="qms"'}}}
TOO_MANY = _error("Too many calls with this token (default 600 per minute).")

CODE_PARAMETER = {"name": "code", "in": "path", "required": True,
                  "description": "The dossier code, {agency code}-{yyMMdd}-{NNNN}.",
                  "schema": {"type": "string", "examples": ["TP-A-261120-0001"]}}

SCHEMAS: dict = {}  # all generated from the typed models (_generated)

PATHS: dict = {
    "/dossiers": {"post": {
        "operationId": "receiveDossier",
        "summary": "Receive a dossier handed over by the portal",
        "description": "Received at the one-stop office of the token's account (an officer of "
                       "that office), under the procedure's internal process in force; the code, "
                       "due time and first step follow the same rules as at the desk.",
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("ReceiveRequest")}}},
        "responses": {
            "201": {**_json("ReceivedDossier", "Received."),
                    "headers": {"Location": {"schema": {"type": "string"},
                                             "description": "The dossier's URL in this API."}}},
            "400": _error("The body is not a JSON object."),
            "401": UNAUTHORIZED,
            "403": _error("The token's account does not receive dossiers (not an officer of a "
                          "one-stop office)."),
            "404": _error("No procedure with this code."),
            "409": _error("The procedure has no internal process in force."),
            "422": _error("Invalid fields (each listed in error.errors), or a procedure of "
                          "another level."),
            "429": TOO_MANY,
        },
    }},
    "/online-dossiers": {"post": {
        "operationId": "registerOnlineDossier",
        "summary": "Register a dossier submitted on the portal (national status 1)",
        "description": "It keeps its national code and waits in the intake queue of the token "
                       "account's one-stop office; the desk accepts it (status 2: the time limit "
                       "runs from then) or refuses it with the reasons (status 3).",
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("OnlineRequest")}}},
        "responses": {
            "201": {**_json("ReceivedDossier", "Registered, waiting at the desk."),
                    "headers": {"Location": {"schema": {"type": "string"},
                                             "description": "The dossier's URL in this API."}}},
            "400": _error("The body is not a JSON object."),
            "401": UNAUTHORIZED,
            "403": _error("The token's account is not an officer of a one-stop office."),
            "404": _error("No procedure with this code."),
            "409": _error("A dossier with this code exists, or the procedure has no internal "
                          "process in force."),
            "422": _error("Invalid fields, a code that is not a national dossier code, or a "
                          "procedure of another level."),
            "429": TOO_MANY,
        },
    }},
    "/dossiers/{code}": {"get": {
        "operationId": "getDossier",
        "summary": "A dossier with its status, steps and events",
        "parameters": [CODE_PARAMETER],
        "responses": {
            "200": _json("Dossier", "The dossier."),
            "401": UNAUTHORIZED,
            "403": _error("The token's account may not read this dossier (another department's)."),
            "404": _error("No dossier with this code."),
            "429": TOO_MANY,
        },
    }},
    "/dossiers/{code}/steps/{position}/complete": {"post": {
        "operationId": "completeStep",
        "summary": "Complete the dossier's current step and hand the next one over",
        "description": "Only an officer (or the head) of the department holding the step "
                       "completes it, once. Completing the last step makes the result ready at "
                       "the one-stop office (status 9, processed): the dossier is classified on "
                       "that moment. An empty body is the same as {}.",
        "parameters": [CODE_PARAMETER,
                       {"name": "position", "in": "path", "required": True,
                        "description": "The step's position (1, 2, ...).",
                        "schema": {"type": "integer", "minimum": 1}}],
        "requestBody": {"required": False,
                        "content": {"application/json": {"schema": _ref("CompleteRequest")}}},
        "responses": {
            "200": _json("Dossier", "The dossier after the completion."),
            "400": _error("The body is not a JSON object."),
            "401": UNAUTHORIZED,
            "403": _error("The step belongs to another department, or the dossier is not "
                          "readable by the token's account."),
            "404": _error("No dossier with this code, or no step at this position."),
            "409": _error("The step is already completed or not yet current, or the dossier is "
                          "not being processed (paused, ended)."),
            "422": _error("Invalid fields, an unknown next department, or the next department "
                          "is missing."),
            "429": TOO_MANY,
        },
    }},
    "/dossiers/{code}/return": {"post": {
        "operationId": "returnResult",
        "summary": "Record that the applicant got the result (status 10)",
        "description": "By the one-stop office that received the dossier, once its result is "
                       "ready (status 9). Moves no figure: the dossier stays classified on the "
                       "moment processing finished. An empty body is the same as {}.",
        "parameters": [CODE_PARAMETER],
        "requestBody": {"required": False,
                        "content": {"application/json": {"schema": _ref("ReturnRequest")}}},
        "responses": {
            "200": _json("Dossier", "The dossier after the return."),
            "400": _error("The body is not a JSON object."),
            "401": UNAUTHORIZED,
            "403": _error("The token's account is not at the one-stop office that received the dossier."),
            "404": _error("No dossier with this code."),
            "409": _error("The result is not ready, or was already returned."),
            "422": _error("Invalid fields."),
            "429": TOO_MANY,
        },
    }},
    "/queue": {"get": {
        "operationId": "getQueue",
        "summary": "The current steps a department holds, soonest due first",
        "parameters": [{"name": "department", "in": "query", "required": False,
                        "description": "A department code. Default: the token account's own "
                                       "department. Another department's queue only for "
                                       "oversight roles (admin, leader, quality officer, auditor).",
                        "schema": {"type": "string"}},
                       {"name": "page", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "default": 1}},
                       {"name": "per_page", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}}],
        "responses": {
            "200": _json("Queue", "The queue."),
            "401": UNAUTHORIZED,
            "403": _error("Another department's queue, and the account has no oversight role."),
            "404": _error("No department with this code."),
            "422": _error("`page` or `per_page` is not a whole number in range."),
            "429": TOO_MANY,
        },
    }},
    "/sync/dossiers": {"post": {
        "operationId": "syncDossiers",
        "summary": "Take in dossiers of the provincial one-stop system (national portal shape)",
        "description": "A batch of up to 1,000 dossiers in the shape provincial systems send to the "
                       "National Public Service Portal: a JSON array, or an object whose `data` is "
                       "one. Only the integration account of a registered source system syncs. Each "
                       "dossier is upserted by (source, MaHoSo): the same payload again is "
                       "unchanged, a later state updates it and appends only new history, an older "
                       "state is ignored. Codes that cannot be mapped (procedure, unit, status) "
                       "hold the dossier in a queue that an administrator maps and replays. Due "
                       "times and classes are computed with this system's rules. Unknown fields "
                       "are ignored.",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [
                {"type": "array", "items": _ref("PortalDossier"), "maxItems": BATCH_MAX},
                {"type": "object", "required": ["data"],
                 "properties": {"data": {"type": "array", "items": _ref("PortalDossier"),
                                         "maxItems": BATCH_MAX}}}]},
            "examples": {"processed": {"summary": "A dossier processed on time", "value": [{
                "MaHoSo": "000.00.22.H12-261125-0001", "MaTTHC": "1.001193", "TenTTHC": "Đăng ký khai sinh",
                "KenhThucHien": 1, "ChuHoSo": "Nguyễn Văn An", "NgayNopHoSo": "20261125090000",
                "NgayTiepNhan": "20261125090000", "NgayHenTra": "20261130090000",
                "NgayKetThucXuLy": "20261127100000", "TrangThaiHoSo": 9, "DonViXuLy": "UBND phường An Hòa",
                "MaDinhDanh": "000.00.22.H12",
                "QuaTrinhXuLyHoSo": [{"NguoiXuLy": "Trần Thị Bình", "ThoiDiemXuLy": "20261125090000",
                                      "NoiDungXuLy": "Tiếp nhận hồ sơ", "TrangThai": 2},
                                     {"NguoiXuLy": "Lê Văn Cường", "ThoiDiemXuLy": "20261127100000",
                                      "NoiDungXuLy": "Đã giải quyết xong", "TrangThai": 9}]}]}}}}},
        "responses": {
            "200": _json("SyncAnswer", "Each dossier's outcome."),
            "400": _error("The body is not JSON."),
            "401": UNAUTHORIZED,
            "403": _error("The token's account is not the integration account of a source system."),
            "409": _error("A concurrent batch took in one of these dossiers first: nothing of this "
                          "batch was written; send it again."),
            "413": _error("The body is over the size limit (SYNC_MAX_BYTES, 16 MB by default)."),
            "422": _error("Not an array of dossiers, an empty one, or more than 1,000."),
            "429": _error("Too many batches with this token (SYNC_RATE_LIMIT, 120 per minute by default)."),
        },
    }},
    "/openapi.json": {"get": {
        "operationId": "getOpenApi",
        "summary": "This document",
        "security": [],
        "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
}

DOCUMENT: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "QMS API",
        "version": "1.0.0",
        "description": "Dossiers for the online public-service portal and other integrations. "
                       "Each call carries `Authorization: Bearer <token>`; a token is issued to "
                       "an integration account (an ordinary user) on the admin page "
                       "/admin/api-tokens or by `qms create-token USERNAME`, and acts with that "
                       "account's permissions. Errors are JSON: "
                       "{\"error\": {\"status\", \"message\", ...}}. Times are ISO 8601 in "
                       "Asia/Ho_Chi_Minh (+07:00).",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "A token of the form qms_<43 characters>, shown once when issued."}},
        "schemas": SCHEMAS,
    },
}


def _generated() -> dict:
    """The schemas the typed models give (their own names, under components/schemas)."""
    from pydantic.json_schema import models_json_schema  # not at start-up: it is heavy

    from qms.services.portal_shape import PortalDossier
    from qms.web.api.answers import ANSWERS
    from qms.web.api.payloads import REQUESTS

    models = ([(model, "validation") for model in (*REQUESTS, PortalDossier)]
              + [(model, "serialization") for model in ANSWERS])
    _keys, schema = models_json_schema(models, by_alias=True, ref_template="#/components/schemas/{model}")
    return schema["$defs"]


@cache
def _document() -> dict:
    document = copy.deepcopy(DOCUMENT)
    document["components"]["schemas"].update(_generated())
    return document


def openapi_document() -> dict:
    return copy.deepcopy(_document())
