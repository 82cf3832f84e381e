"""Validate JSON bodies against the official Exoscale API v2 OpenAPI spec.

The spec is the one shipped in the PyPI package `exoscale`
(exoscale/openapi.json, OpenAPI 3.0). stdin:
  {"items": [{"label", "operation": <operationId>, "kind": "request"|"response", "body": <JSON>}]}
stdout:
  [{"label", "errors": [<message>, ...]}]   (no errors: the body conforms)

OpenAPI 3.0 schemas are JSON Schema draft 4 with extras (boolean
exclusiveMinimum, readOnly), so they are checked with Draft4Validator; $ref
is resolved through a `referencing` registry holding the whole spec. Formats
(uuid, ipv4, date-time) are checked. The spec never forbids unknown members,
so a misspelt field would pass unnoticed: objects are made strict (no members
beyond `properties`) to catch that.
"""
import datetime
import json
import os
import sys

import exoscale
import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT4

SPEC_URI = "urn:exoscale-openapi"
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value):
    # RFC 3339 needs a date, a time and an offset; fromisoformat checks the rest.
    if not isinstance(value, str):
        return True
    if "T" not in value.upper() or not (value.upper().endswith("Z") or value[-6] in "+-"):
        raise ValueError("not an RFC 3339 date-time")
    datetime.datetime.fromisoformat(value)
    return True


def strict(node):
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)


def load_spec():
    with open(os.path.join(os.path.dirname(exoscale.__file__), "openapi.json")) as f:
        spec = json.load(f)
    strict(spec)
    return spec


def pointer(*parts):
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def schema_pointers(spec):
    """operationId -> JSON pointers of its request and 200-response schemas."""
    out = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            base = ("paths", path, method)
            out[op["operationId"]] = {
                "request": pointer(*base, "requestBody", "content", "application/json", "schema"),
                "response": pointer(*base, "responses", "200", "content", "application/json", "schema"),
            }
    return out


def resolve(spec, ptr):
    node = spec
    for part in ptr.split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def main():
    spec = load_spec()
    registry = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(spec))
    pointers = schema_pointers(spec)
    results = []
    for item in json.load(sys.stdin)["items"]:
        ptr = pointers[item["operation"]][item["kind"]]
        resolve(spec, ptr)  # a KeyError here means the spec has no such body
        validator = jsonschema.Draft4Validator(
            {"$ref": SPEC_URI + "#/" + ptr}, registry=registry, format_checker=FORMATS
        )
        errors = [
            "{}: {}".format("/".join(map(str, e.absolute_path)) or "(root)", e.message)
            for e in validator.iter_errors(item["body"])
        ]
        results.append({"label": item["label"], "errors": errors})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
