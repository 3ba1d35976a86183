#!/usr/bin/env python3
"""Validates Protocol/golden-vectors.json against Protocol/schema/header.schema.json.

Valid vectors' headers must validate (and their hex must be the frame the header describes); headers of
vectors refused as unknown_message or invalid_message must NOT validate, so the schema is as strict as the
codec. Needs the `jsonschema` package (pip install jsonschema). Exit status 0 on success.
"""
import json
import os
import struct
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check_schema.py needs the jsonschema package: pip install jsonschema")

here = os.path.dirname(os.path.abspath(__file__))
schema = json.load(open(os.path.join(here, "schema", "header.schema.json"), encoding="utf-8"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
doc = json.load(open(os.path.join(here, "golden-vectors.json"), encoding="utf-8"))

failures = []
checked = 0
types_seen = set()
for v in doc["vectors"]:
    name = v["name"]
    raw = bytes.fromhex(v["hex"])
    if v["valid"]:
        hlen, plen = struct.unpack(">II", raw[:8])
        header = json.loads(raw[8:8 + hlen].decode("utf-8"))
        payload = raw[8 + hlen:]
        if len(raw) != 8 + hlen + plen or payload.hex() != v["payload_hex"] or header != v["header"]:
            failures.append(f"{name}: hex does not match header/payload_hex")
        errors = sorted(validator.iter_errors(header), key=str)
        if errors:
            failures.append(f"{name}: {errors[0].message}")
        types_seen.add(header["type"])
    elif v["error"]["code"] in ("unknown_message", "invalid_message") and isinstance(v.get("header"), dict):
        if v["payload_hex"]:
            continue  # a schema-valid header whose frame is invalid only because of its payload
        if validator.is_valid(v["header"]):
            failures.append(f"{name}: refused with {v['error']['code']} but validates against the schema")
    checked += 1

schema_types = {d["$ref"].rsplit("/", 1)[1] for d in schema["oneOf"]}
if types_seen != schema_types:
    failures.append(f"types with valid vectors {sorted(types_seen)} != schema types {sorted(schema_types)}")

for f in failures:
    print("FAIL", f)
print(f"checked {checked} vectors against the schema ({len(schema_types)} message types): "
      f"{'FAILED' if failures else 'ok'}")
sys.exit(1 if failures else 0)
