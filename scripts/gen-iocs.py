#!/usr/bin/env python3
"""Writes N indicators of every kind Vigie matches, deterministically (a
fixed seed: the same N gives the same files), spread over the formats
`vigie hunt --ioc` reads, for the benchmarks (docs/benchmarks.md):

    scripts/gen-iocs.py [N] [OUT_DIR]        (default 100000, /tmp/vigie-bench/iocs)

  OUT_DIR/stix.json      STIX 2.1 bundle: addresses, IPv6, networks (ISSUBSET),
                         domains, URLs, file hashes, file names, a few LIKE
  OUT_DIR/misp.json      MISP event: ip-dst, domain, hostname, url, md5, sha1,
                         sha256, imphash, filename|sha256
  OUT_DIR/threatfox.csv  ThreatFox CSV layout: ip:port, domain, url, md5_hash,
                         sha256_hash
  OUT_DIR/list.txt       plain list: addresses, networks, ranges, *.domains
  OUT_DIR/values.csv     value,type CSV: addresses, domains, digests, names

Nothing is downloaded: every value is generated (documentation ranges
and random public ranges, `.example`-style names, random digests), so no
feed is committed and none is needed.
"""
import json
import random
import sys
import uuid
from pathlib import Path

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/vigie-bench/iocs")
rng = random.Random(20260116)
NS = uuid.UUID("6d2b0f4e-1c7a-4e57-9b3d-2f8a5c1e7d90")


def ip4():
    while True:
        a = rng.randrange(1, 224)
        if a not in (10, 100, 127, 169, 172, 192):
            return "%d.%d.%d.%d" % (a, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def ip6():
    return "2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536), rng.randrange(1, 65536))


def name():
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "dra", "kor"]
    return "".join(rng.choice(syll) for _ in range(rng.randrange(2, 5)))


def domain():
    tld = rng.choice(["com", "net", "org", "info", "xyz", "top", "ru", "cn", "io"])
    d = "%s-%d.%s" % (name(), rng.randrange(100000), tld)
    return ("%s.%s" % (name(), d)) if rng.random() < 0.3 else d


def url():
    return "http://%s/%s/%s.php?id=%d" % (domain(), name(), name(), rng.randrange(10**6))


def hexs(n):
    return "%0*x" % (n, rng.getrandbits(n * 4))


def exe():
    return "%s%d.exe" % (name(), rng.randrange(1000))


def uid(*parts):
    return str(uuid.uuid5(NS, "\0".join(map(str, parts))))


def stix(count):
    objs = [{"type": "identity", "spec_version": "2.1", "id": "identity--" + uid("id"),
             "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
             "name": "Bench CSIRT", "identity_class": "organization"}]
    for i in range(count):
        k = i % 10
        if k == 0:
            p = "[ipv4-addr:value = '%s']" % ip4()
        elif k == 1:
            p = "[ipv6-addr:value = '%s']" % ip6()
        elif k == 2:
            p = "[ipv4-addr:value ISSUBSET '%s/%d']" % (ip4(), rng.choice([16, 20, 24, 28]))
        elif k == 3:
            p = "[domain-name:value = '%s']" % domain()
        elif k == 4:
            p = "[url:value = '%s']" % url()
        elif k == 5:
            p = "[file:hashes.'SHA-256' = '%s']" % hexs(64)
        elif k == 6:
            p = "[file:hashes.MD5 = '%s' OR file:hashes.'SHA-1' = '%s']" % (hexs(32), hexs(40))
        elif k == 7:
            p = "[file:name = '%s']" % exe()
        elif k == 8:
            p = "[network-traffic:dst_ref.value = '%s']" % ip4()
        else:
            # A few scans: LIKE on names (1 in 100 indicators).
            p = ("[domain-name:value LIKE '%%.%s']" % domain()) if i % 100 == 9 else \
                "[file:extensions.'windows-pebinary-ext'.imphash = '%s']" % hexs(32)
        objs.append({"type": "indicator", "spec_version": "2.1", "id": "indicator--" + uid("s", i),
                     "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                     "created_by_ref": objs[0]["id"], "name": "bench %d" % i,
                     "pattern": p, "pattern_type": "stix", "valid_from": "2015-01-01T00:00:00Z",
                     "confidence": rng.randrange(101)})
    return {"type": "bundle", "id": "bundle--" + uid("b"), "objects": objs}


def misp(count):
    kinds = ["ip-dst", "domain", "hostname", "url", "md5", "sha1", "sha256", "imphash", "filename|sha256"]
    attrs = []
    for i in range(count):
        t = kinds[i % len(kinds)]
        v = {"ip-dst": ip4, "domain": domain, "hostname": domain, "url": url,
             "md5": lambda: hexs(32), "sha1": lambda: hexs(40), "sha256": lambda: hexs(64),
             "imphash": lambda: hexs(32), "filename|sha256": lambda: "%s|%s" % (exe(), hexs(64))}[t]()
        attrs.append({"uuid": uid("m", i), "type": t, "category": "Network activity" if t in ("ip-dst", "domain", "hostname", "url") else "Payload delivery",
                      "value": v, "to_ids": True})
    return {"Event": {"uuid": uid("event"), "info": "bench", "date": "2026-01-01",
                      "Orgc": {"name": "Bench MISP", "uuid": uid("org")},
                      "Tag": [{"name": "tlp:green"}], "Attribute": attrs}}


def threatfox(count):
    lines = ['# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"']
    for i in range(count):
        t = ["ip:port", "domain", "url", "md5_hash", "sha256_hash"][i % 5]
        v = {"ip:port": lambda: "%s:%d" % (ip4(), rng.randrange(1, 65536)), "domain": domain, "url": url,
             "md5_hash": lambda: hexs(32), "sha256_hash": lambda: hexs(64)}[t]()
        lines.append('"2025-06-01 00:00:00", "%d", "%s", "%s", "botnet_cc", "win.bench", "", "Bench", "", "75", "0", "", "", "0", "bench"' % (i, v, t))
    return "\n".join(lines) + "\n"


def plain(count):
    out = ["# bench list"]
    for i in range(count):
        k = i % 4
        if k == 0:
            out.append(ip4())
        elif k == 1:
            out.append("%s/%d" % (ip4(), rng.choice([22, 24, 27])))
        elif k == 2:
            a = ip4().rsplit(".", 1)[0]
            out.append("%s.10-%s.20" % (a, a))
        else:
            out.append("*." + domain())
    return "\n".join(out) + "\n"


def values(count):
    out = ["value,type,tlp,source"]
    for i in range(count):
        t = ["ip", "domain", "sha256", "md5", "file_name"][i % 5]
        v = {"ip": ip4, "domain": domain, "sha256": lambda: hexs(64), "md5": lambda: hexs(32), "file_name": exe}[t]()
        out.append("%s,%s,amber,Bench CSV" % (v, t))
    return "\n".join(out) + "\n"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    share = N // 5
    (OUT / "stix.json").write_text(json.dumps(stix(share)))
    (OUT / "misp.json").write_text(json.dumps(misp(share)))
    (OUT / "threatfox.csv").write_text(threatfox(share))
    (OUT / "list.txt").write_text(plain(share))
    (OUT / "values.csv").write_text(values(N - 4 * share))
    print("%d indicators in %s" % (N, OUT))


main()
