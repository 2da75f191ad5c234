#!/usr/bin/env python3
"""Validates event envelopes (JSON lines) against schemas/events with `jsonschema`.

Usage: check_schemas.py SCHEMA_DIR EVENTS.jsonl
Prints one line per event: `ok` or `invalid <what>`; a missing payload schema is invalid too.
"""
import json
import pathlib
import sys

import jsonschema


def main(schema_dir, path):
    schema_dir = pathlib.Path(schema_dir)
    validators = {}

    def validator(name):
        if name not in validators:
            file = schema_dir / name
            if not file.exists():
                validators[name] = None
            else:
                schema = json.loads(file.read_text())
                cls = jsonschema.validators.validator_for(schema)
                cls.check_schema(schema)
                validators[name] = cls(schema)
        return validators[name]

    out = []
    with open(path, "rb") as lines:
        for line in lines:
            event = json.loads(line)
            errors = [f"envelope: {e.message}" for e in validator("envelope.json").iter_errors(event)]
            name = f"{event.get('type')}.v{event.get('version')}.json"
            payload_validator = validator(name)
            if payload_validator is None:
                errors.append(f"no schema {name}")
            else:
                errors += [f"payload/{'/'.join(map(str, e.absolute_path))}: {e.message}"
                           for e in payload_validator.iter_errors(event.get("payload"))]
            out.append("ok\n" if not errors else "invalid " + "; ".join(errors).replace("\n", " ") + "\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
