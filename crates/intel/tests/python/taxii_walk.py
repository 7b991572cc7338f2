"""Walks a TAXII 2.1 server with the reference client (taxii2-client):
discovery, API roots, collections, every page of objects and of the
manifest, each object by id and its versions, and `added_after`.

Usage: taxii_walk.py DISCOVERY_URL PER_PAGE ADDED_AFTER
Basic authentication as TAXII_USER / TAXII_PASSWORD from the environment
(a secret never on the command line), `reader` / `secret` by default.
Prints one JSON line of what it saw; exits 1 on any error.
"""
import json
import os
import sys

from taxii2client.v21 import Server, as_pages


def main():
    url, per_page, after = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    server = Server(
        url,
        user=os.environ.get("TAXII_USER", "reader"),
        password=os.environ.get("TAXII_PASSWORD", "secret"),
    )
    out = {"title": server.title, "roots": []}
    for root in server.api_roots:
        r = {"title": root.title, "versions": root.versions, "collections": []}
        for c in root.collections:
            ids, pages = [], 0
            for envelope in as_pages(c.get_objects, per_request=per_page):
                pages += 1
                ids += [o["id"] for o in envelope.get("objects", [])]
            manifest = []
            for envelope in as_pages(c.get_manifest, per_request=per_page):
                manifest += [m["id"] for m in envelope.get("objects", [])]
            first = ids[0]
            one = c.get_object(first)
            versions = c.object_versions(first)
            recent = c.get_objects(added_after=after).get("objects", [])
            indicators = c.get_objects(type="indicator").get("objects", [])
            types = sorted({o["type"] for o in c.get_objects(limit=1000).get("objects", [])})
            r["collections"].append({
                "types": types,
                "id": c.id, "title": c.title, "can_read": c.can_read, "can_write": c.can_write,
                "objects": len(ids), "distinct": len(set(ids)), "pages": pages,
                "manifest": len(manifest), "manifest_same": sorted(manifest) == sorted(ids),
                "one": [o["id"] for o in one["objects"]], "versions": len(versions["versions"]),
                "added_after": len(recent), "indicators": len(indicators),
            })
        out["roots"].append(r)
    print(json.dumps(out, sort_keys=True))


main()
