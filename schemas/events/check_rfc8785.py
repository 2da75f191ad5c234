#!/usr/bin/env python3
"""Recomputes event ids with the off-the-shelf `rfc8785` package, as an auditor would.

Reads envelopes as JSON lines (file argument). For each line prints
`<id recomputed from the identity object> <sha256 of rfc8785.dumps(whole envelope)>`.
Integers beyond 2^53 are read as doubles, which is what every JSON number is in RFC 8785.
"""
import hashlib
import json
import sys

import rfc8785

IDENTITY = ("type", "version", "source", "subject", "occurredAt", "payload")


def number(text):
    value = int(text)
    return value if abs(value) < 2**53 else float(text)


def main(path):
    out = []
    with open(path, "rb") as lines:
        for line in lines:
            line = line.rstrip(b"\n")
            envelope = json.loads(line, parse_int=number)
            identity = {key: envelope[key] for key in IDENTITY}
            event_id = hashlib.sha256(rfc8785.dumps(identity)).hexdigest()
            whole = hashlib.sha256(rfc8785.dumps(envelope)).hexdigest()
            out.append(f"{event_id} {whole}\n")
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
