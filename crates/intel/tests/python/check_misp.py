"""Checks a MISP event written by `vigie export misp` with PyMISP: it loads,
every attribute's type is a MISP type and its category one that PyMISP's
own table (describeTypes.json) allows for that type, objects follow their
MISP object template (uuid, relations, types), the TLP tag is there. With a
feed directory, checks that its manifest.json and hashes.csv are exactly
what PyMISP's feed generator makes from the event files.

Usage: check_misp.py EVENT TLP [FEED_DIR]
Prints one JSON line (counts); exits 1 with the reasons otherwise.
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pymisp
from pymisp import MISPEvent
from pymisp.tools import feed_meta_generator


def main():
    path, tlp = sys.argv[1], sys.argv[2]
    feed = sys.argv[3] if len(sys.argv) > 3 else None
    data = Path(pymisp.__file__).parent / "data"
    with open(data / "describeTypes.json", encoding="utf-8") as f:
        types = json.load(f)["result"]
    mapping = types["category_type_mappings"]
    problems = []
    event = MISPEvent()
    event.load_file(path)
    attributes = [(None, a) for a in event.attributes]
    for obj in event.objects:
        template_path = data / "misp-objects" / "objects" / obj.name / "definition.json"
        if not template_path.exists():
            problems.append("object %s: no MISP object template of this name" % obj.name)
            continue
        with open(template_path, encoding="utf-8") as f:
            template = json.load(f)
        if obj.template_uuid != template["uuid"]:
            problems.append("object %s: template_uuid %s is not %s" % (obj.name, obj.template_uuid, template["uuid"]))
        for a in obj.attributes:
            rel = template["attributes"].get(a.object_relation)
            if rel is None:
                problems.append("object %s: relation %s not in its template" % (obj.name, a.object_relation))
            elif rel["misp-attribute"] != a.type:
                problems.append("object %s: relation %s is a %s, not a %s" % (obj.name, a.object_relation, rel["misp-attribute"], a.type))
            attributes.append((obj.name, a))
    for obj_name, a in attributes:
        where = "%s attribute %s" % (obj_name or "event", a.value)
        if a.type not in types["types"]:
            problems.append("%s: type %s is not a MISP type" % (where, a.type))
        elif a.category not in mapping or a.type not in mapping[a.category]:
            problems.append("%s: category %s does not allow type %s" % (where, a.category, a.type))
    tags = [t.name for t in event.tags]
    if "tlp:%s" % tlp not in tags:
        problems.append("no tlp:%s tag (tags: %s)" % (tlp, tags))
    if feed:
        with tempfile.TemporaryDirectory() as tmp:
            for name in os.listdir(feed):
                if name not in ("manifest.json", "hashes.csv"):
                    shutil.copy(os.path.join(feed, name), tmp)
            feed_meta_generator(Path(tmp))
            with open(os.path.join(tmp, "manifest.json"), encoding="utf-8") as f:
                theirs = json.load(f)
            with open(os.path.join(feed, "manifest.json"), encoding="utf-8") as f:
                ours = json.load(f)
            if theirs != ours:
                problems.append("manifest.json differs from PyMISP's:\n ours   %s\n theirs %s" % (json.dumps(ours, sort_keys=True), json.dumps(theirs, sort_keys=True)))
            with open(os.path.join(tmp, "hashes.csv"), encoding="utf-8") as f:
                theirs = sorted(f.read().split())
            with open(os.path.join(feed, "hashes.csv"), encoding="utf-8") as f:
                ours = sorted(f.read().split())
            if theirs != ours:
                problems.append("hashes.csv differs from PyMISP's (%d lines, theirs %d)" % (len(ours), len(theirs)))
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(json.dumps({"attributes": len(attributes), "objects": len(event.objects), "tags": len(tags)}))


main()
