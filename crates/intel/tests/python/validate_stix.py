"""Checks a STIX 2.1 bundle written by `vigie export stix` with the OASIS
validator (strict: warnings are errors; references resolved), then what the validator does not check: the
deterministic ids of cyber-observables (STIX 2.1 section 2.9, computed here
independently), and the TLP marking on every object.

Usage: validate_stix.py BUNDLE TLP
Prints one JSON line (counts by type); exits 1 with the reasons otherwise.
"""
import json
import sys
import uuid

from stix2validator import ValidationOptions, validate_file

NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
TLP2 = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
CONTRIBUTING = {
    "ipv4-addr": ["value"],
    "ipv6-addr": ["value"],
    "domain-name": ["value"],
    "url": ["value"],
    "file": ["hashes", "name", "extensions", "parent_directory_ref"],
}


def one_hash(hashes):
    for name in ("MD5", "SHA-1", "SHA-256", "SHA-512"):
        if name in hashes:
            return {name: hashes[name]}
    key = next(iter(hashes))
    return {key: hashes[key]}


def expected_id(obj):
    props = {}
    for p in CONTRIBUTING[obj["type"]]:
        if p in obj:
            props[p] = one_hash(obj[p]) if p == "hashes" else obj[p]
    # RFC 8785 for these values: sorted keys, no whitespace, UTF-8.
    text = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "%s--%s" % (obj["type"], uuid.uuid5(NAMESPACE, text))


def main():
    path, tlp = sys.argv[1], sys.argv[2]
    problems = []
    # `stix2-validator --strict --enforce-refs`.
    options = ValidationOptions(version="2.1", strict=True, enforce_refs=True)
    results = validate_file(path, options)
    if not results.is_valid:
        for r in results.object_results:
            for e in r.errors:
                problems.append("validator: %s: %s" % (r.object_id, e))
            for w in r.warnings:
                problems.append("validator (warning): %s: %s" % (r.object_id, w))
        if results.fatal:
            problems.append("validator fatal: %s" % results.fatal.message)
    with open(path, encoding="utf-8") as f:
        bundle = json.load(f)
    counts = {}
    marking = TLP2[tlp]
    for obj in bundle["objects"]:
        counts[obj["type"]] = counts.get(obj["type"], 0) + 1
        if obj["type"] in CONTRIBUTING and obj["id"] != expected_id(obj):
            problems.append("id %s is not the deterministic id %s" % (obj["id"], expected_id(obj)))
        if obj["type"] == "marking-definition":
            if obj["id"] != marking:
                problems.append("marking %s is not the TLP 2.0 %s marking" % (obj["id"], tlp))
        elif marking not in obj.get("object_marking_refs", []):
            problems.append("%s lacks the %s marking" % (obj["id"], tlp))
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(json.dumps(counts, sort_keys=True))


main()
