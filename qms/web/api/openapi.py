"""The OpenAPI 3.1 description of API v1, served at /api/v1/openapi.json.

The request bodies' schemas are generated from the typed models that check them
(qms/web/api/payloads.py, qms/services/portal_shape.py), so a rule and its description
cannot drift; the responses' schemas are written below, and tests/api/test_openapi.py checks
that real responses match them, that the document is valid OpenAPI 3.1, and that every API
route is in it.
"""
from __future__ import annotations

import copy
from functools import cache

from qms.services.sync import BATCH_MAX

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time",
                 "description": "ISO 8601 with the +07:00 offset (Asia/Ho_Chi_Minh); null if not yet."}
TIME = {"type": "string", "format": "date-time",
        "description": "ISO 8601 with the +07:00 offset (Asia/Ho_Chi_Minh)."}
TIMELINESS = {"type": ["string", "null"], "enum": ["early", "on_time", "late", None],
              "description": "Compared by date with the due time once finished "
                             "(trước hạn / đúng hạn / quá hạn); null while in progress."}


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

SCHEMAS: dict = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status, repeated."},
                "title": {"type": "string"},
                "message": {"type": "string", "description": "What went wrong, for a person."},
                "errors": {"type": "array", "description": "Invalid input: each field's problem.",
                           "items": {"type": "object", "required": ["field", "message"],
                                     "properties": {"field": {"type": "string",
                                                              "examples": ["applicant.name"]},
                                                    "message": {"type": "string"}}}},
            },
        }},
    },
    "Status": {
        "type": "object",
        "required": ["code", "national_code", "label"],
        "properties": {
            "code": {"type": "string", "enum": [
                "registered", "received", "not_accepted", "processing", "supplement_requested",
                "awaiting_payment", "withdrawn", "stopped", "processed", "returned"]},
            "national_code": {"type": "integer", "minimum": 1, "maximum": 10,
                              "description": "The national dossier status code (1 registered … "
                                             "10 returned)."},
            "label": {"type": "string"},
        },
    },
    "Named": {
        "type": "object",
        "required": ["code", "name"],
        "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
    },
    "Person": {
        "type": ["object", "null"],
        "required": ["username", "full_name"],
        "properties": {"username": {"type": "string"}, "full_name": {"type": "string"}},
    },
    "Step": {
        "type": "object",
        "required": ["position", "name", "role", "department", "handed_over_at", "due_at",
                     "completed_at", "completed_by", "note", "result", "timeliness"],
        "properties": {
            "position": {"type": "integer", "minimum": 1},
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["one_stop", "specialist", "department_head",
                                                "leader", "clerk", "coordinating", "other"]},
            "department": {"oneOf": [_ref("Named"), {"type": "null"}],
                           "description": "The department holding the step; null before hand-over."},
            "handed_over_at": NULLABLE_TIME,
            "due_at": NULLABLE_TIME,
            "completed_at": NULLABLE_TIME,
            "completed_by": _ref("Person"),
            "note": {"type": "string"},
            "result": {"type": "string"},
            "timeliness": TIMELINESS,
        },
    },
    "Event": {
        "type": "object",
        "required": ["kind", "at", "by", "department", "reason", "due_before", "due_after",
                     "step_position"],
        "properties": {
            "kind": {"type": "string", "enum": [
                "supplement_requested", "supplement_received", "payment_requested",
                "payment_received", "apology", "stopped", "withdrawn", "not_accepted", "sent_back"]},
            "at": TIME,
            "by": _ref("Person"),
            "department": {"oneOf": [_ref("Named"), {"type": "null"}]},
            "reason": {"type": "string"},
            "due_before": NULLABLE_TIME,
            "due_after": NULLABLE_TIME,
            "step_position": {"type": ["integer", "null"]},
        },
    },
    "Dossier": {
        "type": "object",
        "required": ["code", "status", "procedure", "agency", "processing_agency", "department", "channel",
                     "applicant", "components", "case", "return_method", "received_at", "original_due_at",
                     "due_at", "promised_at", "paused_at", "processed_at", "registered_at", "returned_at",
                     "returned_via", "timeliness", "current_step", "steps", "events"],
        "properties": {
            "code": {"type": "string"},
            "status": _ref("Status"),
            "procedure": _ref("Named"),
            "agency": {**_ref("Named"), "description": "The receiving agency."},
            "processing_agency": {**_ref("Named"), "description": "The agency processing it (the "
                                                                   "receiving one unless another was named)."},
            "department": {**_ref("Named"), "description": "The receiving one-stop office."},
            "channel": {"type": "object", "required": ["code", "national_code"],
                        "properties": {"code": {"type": "string", "enum": ["direct", "online", "postal"]},
                                       "national_code": {"type": "integer", "enum": [1, 2, 3]}}},
            "applicant": {"type": "object",
                          "required": ["name", "id_number", "phone", "address", "email"],
                          "properties": {k: {"type": "string"} for k in
                                         ("name", "id_number", "phone", "address", "email")}},
            "components": {"type": "array", "items": {"type": "string"}},
            "case": {"type": ["object", "null"], "properties": {"key": {"type": "string"},
                                                                "name": {"type": "string"}},
                     "description": "The procedure case picked at intake; null: the main case."},
            "return_method": {"type": "string"},
            "received_at": TIME,
            "original_due_at": TIME,
            "due_at": {**TIME, "description": "The legal due time (+07:00); it moves only when a "
                                              "supplementation restarts or resumes the clock."},
            "promised_at": {**NULLABLE_TIME, "description": "The new date of an apology letter."},
            "paused_at": {**NULLABLE_TIME, "description": "Since when the clock is stopped."},
            "processed_at": {**NULLABLE_TIME, "description": "Processing finished: the result is "
                             "ready at the one-stop office (status 9). The dossier is classified "
                             "on this moment."},
            "registered_at": {**NULLABLE_TIME, "description": "Submitted online (status 1)."},
            "returned_at": {**NULLABLE_TIME, "description": "The applicant got the result (status 10)."},
            "returned_via": {"type": ["string", "null"], "enum": ["desk", "postal", "online", None]},
            "timeliness": TIMELINESS,
            "current_step": {"type": ["integer", "null"],
                             "description": "The position of the step being worked; null once ended."},
            "steps": {"type": "array", "items": _ref("Step")},
            "events": {"type": "array", "items": _ref("Event")},
        },
    },
    "ReceivedDossier": {
        "allOf": [_ref("Dossier"), {
            "type": "object",
            "required": ["lookup_secret"],
            "properties": {"lookup_secret": {
                "type": "string", "pattern": "^[A-Z2-9]{8}$",
                "description": "The applicant's lookup secret for /tra-cuu. Given only in this "
                               "response (only its hash is stored)."}},
        }],
    },
    "QueueItem": {
        "type": "object",
        "required": ["dossier_code", "status", "procedure", "step", "handed_over_at", "due_at",
                     "dossier_due_at", "overdue"],
        "properties": {
            "dossier_code": {"type": "string"},
            "status": _ref("Status"),
            "procedure": _ref("Named"),
            "step": {"type": "object", "required": ["position", "name"],
                     "properties": {"position": {"type": "integer"}, "name": {"type": "string"}}},
            "handed_over_at": TIME,
            "due_at": TIME,
            "dossier_due_at": TIME,
            "overdue": {"type": "boolean", "description": "The step's due time has passed."},
        },
    },
    "Queue": {
        "type": "object",
        "required": ["department", "generated_at", "page", "per_page", "total", "pages", "items"],
        "properties": {
            "department": _ref("Named"),
            "generated_at": TIME,
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 500},
            "total": {"type": "integer", "minimum": 0, "description": "Steps in the whole queue."},
            "pages": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": _ref("QueueItem"),
                      "description": "This page's steps, soonest due first."},
        },
    },
}

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
    from qms.web.api.payloads import REQUESTS
    from qms.web.api.sync_answer import SyncAnswer

    models = [(model, "validation") for model in (*REQUESTS, PortalDossier)] + [(SyncAnswer, "serialization")]
    _keys, schema = models_json_schema(models, by_alias=True, ref_template="#/components/schemas/{model}")
    return schema["$defs"]


@cache
def _document() -> dict:
    document = copy.deepcopy(DOCUMENT)
    document["components"]["schemas"].update(_generated())
    return document


def openapi_document() -> dict:
    return copy.deepcopy(_document())
