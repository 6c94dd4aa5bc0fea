"""/api/v1/openapi.json: a valid OpenAPI 3.1 document that names every API route and whose
schemas the real responses match (so the portal's developers can trust it)."""
from __future__ import annotations

import re

import pytest

from tests.api.conftest import PORTAL_DOSSIER

pytestmark = pytest.mark.usefixtures("in_force")


@pytest.fixture
def document(api):
    response = api(None).get("/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.json


def test_it_is_a_valid_openapi_3_1_document(document):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]
    assert document["paths"]["/openapi.json"]["get"]["security"] == []


def test_every_api_route_is_described(app, document):
    prefix = document["servers"][0]["url"]
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix + "/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(prefix):])
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    assert routes, "no API routes?"
    described = {path: set(ops) for path, ops in document["paths"].items()}
    assert routes == described
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation["responses"], (path, method)
            if path != "/openapi.json":
                assert "401" in operation["responses"], (path, method)


def _validator(document, name):
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT202012

    resource = referencing.Resource.from_contents(document, default_specification=DRAFT202012)
    registry = referencing.Registry().with_resource("urn:qms:openapi", resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:qms:openapi#/components/schemas/{name}"}, registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_real_responses_match_the_documented_schemas(api, document):
    received = api("onestop").post("/dossiers", json=PORTAL_DOSSIER)
    assert received.status_code == 201
    _validator(document, "ReceivedDossier").validate(received.json)
    code = received.json["code"]
    completed = api("onestop").post(f"/dossiers/{code}/steps/1/complete",
                                    json={"next_department_code": "A-VHXH", "note": "Đủ"})
    assert completed.status_code == 200
    _validator(document, "Dossier").validate(completed.json)
    broken = {**completed.json, "due_at": "25/11/2026 17:00", "steps": [{"position": 1}]}
    assert not _validator(document, "Dossier").is_valid(broken)  # the check does bite
    _validator(document, "Dossier").validate(api("culture").get(f"/dossiers/{code}").json)
    _validator(document, "Queue").validate(api("culture").get("/queue").json)
    errors = [api(None).get("/queue"),
              api("onestop").post("/dossiers", json={"applicant": {}}),
              api("onestop").get("/dossiers/TP-A-000000-0000"),
              api("onestop").post(f"/dossiers/{code}/steps/1/complete", json={})]
    assert [e.status_code for e in errors] == [401, 422, 404, 409]
    for error in errors:
        _validator(document, "Error").validate(error.json)
    # A documented status for each of these answers
    paths = document["paths"]
    assert "422" in paths["/dossiers"]["post"]["responses"]
    assert "409" in paths["/dossiers/{code}/steps/{position}/complete"]["post"]["responses"]


def test_request_schemas_are_the_models_that_check_the_requests(api, document):
    """One definition: what the document says a body may be is what the endpoint accepts."""
    from qms.web.api.payloads import REQUESTS

    schemas = document["components"]["schemas"]
    for model in REQUESTS:
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
        assert schemas[model.__name__]["properties"] == generated["properties"], model.__name__
        assert schemas[model.__name__]["additionalProperties"] is False
    receive = _validator(document, "ReceiveRequest")
    receive.validate(PORTAL_DOSSIER)
    for bad in ({**PORTAL_DOSSIER, "applicant": {"name": "A", "phone": "0" * 40}},
                {**PORTAL_DOSSIER, "channel": "fax"}, {**PORTAL_DOSSIER, "fee": 0},
                {**PORTAL_DOSSIER, "components": ["x" * 501]}):
        assert not receive.is_valid(bad)
        assert api("onestop").post("/dossiers", json=bad).status_code == 422


def test_every_schema_is_generated_from_a_typed_model(document):
    """Nothing is kept by hand: each schema the document names is a model's."""
    from qms.services.portal_shape import PortalDossier
    from qms.web.api.answers import ANSWERS
    from qms.web.api.payloads import REQUESTS

    schemas = document["components"]["schemas"]
    for model in (*REQUESTS, *ANSWERS, PortalDossier):
        assert model.__name__ in schemas
    for path in document["paths"].values():
        for operation in path.values():
            for answer in operation["responses"].values():
                for content in answer.get("content", {}).values():
                    ref = content["schema"].get("$ref", "")
                    assert not ref or ref.split("/")[-1] in schemas, ref
