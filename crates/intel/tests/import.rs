//! Indicators in, from documents laid out as their producers write them;
//! everything not imported is reported with its place and reason.

use vigie_intel::{import_bytes, import_path, Format, ProblemKind, Subdomains, Test, Tlp};

fn values(i: &vigie_intel::Imported) -> Vec<String> {
    i.indicators
        .iter()
        .flat_map(|i| {
            i.condition
                .any
                .iter()
                .flatten()
                .map(|t| t.test.value_text())
        })
        .collect()
}

#[test]
fn threatfox_urlhaus_feodo_exports() {
    let threatfox = r#"################################################################
# ThreatFox IOCs: recent additions - CSV format                #
# Last updated: 2026-09-24 09:30:35 UTC                        #
################################################################
#
# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous","reporter"
"2026-09-24 09:30:35", "1932212", "https://pay.example/gate.php", "url", "payload_delivery", "win.lumma", "LummaC2", "Lumma Stealer", "", "100", "0", "", "Lumma", "0", "abuse_ch"
"2026-09-24 09:10:02", "1932211", "203.0.113.10:443", "ip:port", "botnet_cc", "win.cobalt_strike", "Agentemis,BEACON", "Cobalt Strike", "", "75", "0", "https://x.example/r", "CobaltStrike,c2", "0", "someone"
"2026-09-24 08:00:00", "1932210", "c2.evil.example", "domain", "botnet_cc", "win.qakbot", "", "QakBot", "", "50", "0", "", "", "0", "r"
"2026-09-24 07:00:00", "1932209", "d41d8cd98f00b204e9800998ecf8427e", "md5_hash", "payload", "unknown", "", "Unknown malware", "", "25", "0", "", "", "0", "r"
"2026-09-24 06:00:00", "1932208", "x@evil.example", "envelope_from", "payload", "unknown", "", "Unknown", "", "25", "0", "", "", "0", "r"
"#;
    let i = import_bytes(threatfox.as_bytes(), "threatfox.csv");
    assert_eq!(i.indicators.len(), 4, "{:?}", i.problems);
    assert_eq!(
        values(&i),
        [
            "https://pay.example/gate.php",
            "203.0.113.10",
            "c2.evil.example",
            "d41d8cd98f00b204e9800998ecf8427e"
        ]
    );
    let cs = &i.indicators[1];
    assert_eq!(cs.source.format, Format::ThreatFox);
    assert_eq!(cs.source.name, "abuse.ch ThreatFox");
    assert_eq!(cs.tlp, Some(Tlp::Clear));
    assert_eq!(cs.confidence, Some(75));
    assert_eq!(cs.name.as_deref(), Some("Cobalt Strike (botnet_cc)"));
    assert_eq!(
        cs.valid_from.unwrap().to_rfc3339(),
        "2026-09-24T09:10:02+00:00"
    );
    assert!(cs.tags.iter().any(|t| &**t == "malware.win.cobalt_strike"));
    assert_eq!(i.problems.len(), 1);
    assert_eq!(i.problems[0].kind, ProblemKind::Unsupported);
    assert!(
        i.problems[0].place.ends_with(":11"),
        "{}",
        i.problems[0].place
    );

    let urlhaus = "################################################################\n# URLhaus Database Dump (CSV - recent URLs)                    #\n################################################################\n#\n# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"3821497\",\"2026-04-14 16:02:21\",\"http://61.54.253.89:37352/bin.sh\",\"online\",\"2026-04-14 16:02:21\",\"malware_download\",\"32-bit,elf,mips,Mozi\",\"https://urlhaus.abuse.ch/url/3821497/\",\"geenensp\"\n\"3821496\",\"2026-04-14 16:01:00\",\"not a url\",\"offline\",\"\",\"malware_download\",\"\",\"https://urlhaus.abuse.ch/url/3821496/\",\"x\"\n";
    let u = import_bytes(urlhaus.as_bytes(), "urlhaus.csv");
    assert_eq!(values(&u), ["http://61.54.253.89:37352/bin.sh"]);
    assert_eq!(
        u.indicators[0].name.as_deref(),
        Some("malware_download (32-bit,elf,mips,Mozi)")
    );
    assert_eq!(u.problems[0].kind, ProblemKind::Invalid);

    let feodo = "################################################################\n# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)          #\n################################################################\n#\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\"2022-06-04 21:24:53\",\"162.243.103.246\",\"8080\",\"offline\",\"2026-03-07\",\"Emotet\"\n\"2025-12-30 13:56:31\",\"50.16.16.211\",\"443\",\"online\",\"2026-03-12\",\"QakBot\"\n";
    let f = import_bytes(feodo.as_bytes(), "ipblocklist.csv");
    assert_eq!(values(&f), ["162.243.103.246", "50.16.16.211"]);
    assert_eq!(f.indicators[1].name.as_deref(), Some("QakBot C2"));
    assert_eq!(f.indicators[0].source.format, Format::Feodo);
}

#[test]
fn plain_lists_and_value_type_csv() {
    let list = "# FortiGate threat feed\n203.0.113.45\n198.51.100.0/24\n192.0.2.10-192.0.2.12\n*.evil.example\nbad.example\nhttps://bad.example/x\nd41d8cd98f00b204e9800998ecf8427e trojan sample\nnot a value\n\n";
    let i = import_bytes(list.as_bytes(), "feed.txt");
    assert_eq!(
        values(&i),
        [
            "203.0.113.45",
            "198.51.100.0/24",
            "192.0.2.10/31",
            "192.0.2.12",
            "*.evil.example",
            "bad.example",
            "https://bad.example/x",
            "d41d8cd98f00b204e9800998ecf8427e"
        ]
    );
    assert!(matches!(
        &i.indicators[3].condition.any[0][0].test,
        Test::Domain(_, Subdomains::Only)
    ));
    assert_eq!(i.indicators[6].name.as_deref(), Some("trojan sample"));
    assert_eq!(i.problems.len(), 1);
    assert_eq!(i.problems[0].place, "feed.txt:9");

    let csv = "value,type,tlp,comment,confidence\n203.0.113.45,ip,amber+strict,entrée VPN,90\nrelay.example,domain,red,,\n0123456789abcdef0123456789abcdef,imphash,,,\nx,mutex,,,\n";
    let c = import_bytes(csv.as_bytes(), "blocklist.csv");
    assert_eq!(
        values(&c),
        [
            "203.0.113.45",
            "relay.example",
            "0123456789abcdef0123456789abcdef"
        ]
    );
    assert_eq!(c.indicators[0].tlp, Some(Tlp::AmberStrict));
    assert_eq!(c.indicators[0].confidence, Some(90));
    assert_eq!(c.indicators[0].name.as_deref(), Some("entrée VPN"));
    assert_eq!(c.problems[0].kind, ProblemKind::Unsupported);
}

#[test]
fn misp_events_objects_tags_and_to_ids() {
    let event = r#"{"Event": {
      "uuid": "5f3c1a2b-0000-4000-8000-000000000001", "info": "Campagne rançongiciel", "date": "2026-01-10",
      "Orgc": {"name": "CERT-FR", "uuid": "5f3c1a2b-0000-4000-8000-0000000000ff"},
      "Tag": [{"name": "tlp:amber"}, {"name": "estimative-language:confidence-in-analytic-judgment=\"high\""},
              {"name": "misp-galaxy:mitre-attack-pattern=\"Remote Desktop Protocol - T1021.001\""}],
      "Attribute": [
        {"uuid": "a1", "type": "ip-src", "category": "Network activity", "value": "203.0.113.45", "to_ids": true},
        {"uuid": "a2", "type": "ip-dst|port", "category": "Network activity", "value": "198.51.100.7|443", "to_ids": "1"},
        {"uuid": "a3", "type": "hostname", "category": "Network activity", "value": "Relay.Evil.Example", "to_ids": true, "Tag": [{"name": "tlp:red"}]},
        {"uuid": "a4", "type": "domain|ip", "category": "Network activity", "value": "evil.example|192.0.2.9", "to_ids": true},
        {"uuid": "a5", "type": "url", "category": "Network activity", "value": "http://evil.example/a", "to_ids": false},
        {"uuid": "a6", "type": "sha256", "category": "Payload delivery", "value": "zz", "to_ids": true},
        {"uuid": "a7", "type": "mutex", "category": "Artifacts dropped", "value": "Global\\x", "to_ids": true},
        {"uuid": "a8", "type": "domain", "category": "Network activity", "value": "old.example", "to_ids": true, "deleted": true}
      ],
      "Object": [{"name": "file", "Attribute": [
        {"uuid": "o1", "object_relation": "filename", "type": "filename", "category": "Payload delivery", "value": "rclone.exe", "to_ids": false},
        {"uuid": "o2", "object_relation": "sha256", "type": "sha256", "category": "Payload delivery", "value": "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB", "to_ids": true}
      ]}]
    }}"#;
    let i = import_bytes(event.as_bytes(), "event.json");
    assert_eq!(
        values(&i),
        [
            "203.0.113.45",
            "198.51.100.7",
            "relay.evil.example",
            "evil.example",
            "192.0.2.9",
            "ab".repeat(32).as_str()
        ]
    );
    let host = &i.indicators[2];
    assert!(matches!(
        &host.condition.any[0][0].test,
        Test::Domain(_, Subdomains::Excluded)
    ));
    assert_eq!(host.tlp, Some(Tlp::Red), "the attribute's tag wins");
    assert_eq!(i.indicators[0].tlp, Some(Tlp::Amber));
    assert_eq!(i.indicators[0].confidence, Some(85));
    assert_eq!(i.indicators[0].source.name, "CERT-FR");
    assert!(i.indicators[0]
        .tags
        .iter()
        .any(|t| &**t == "attack.t1021.001"));
    let kinds: Vec<ProblemKind> = i.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::NotForDetection,
            ProblemKind::Invalid,
            ProblemKind::Unsupported,
            ProblemKind::Revoked,
            ProblemKind::NotForDetection
        ]
    );
}

#[test]
fn stix_bundles_identities_markings_and_what_cannot_be_matched() {
    let bundle = r#"{"type": "bundle", "id": "bundle--1", "objects": [
      {"type": "identity", "spec_version": "2.1", "id": "identity--c", "name": "CSIRT Breizh", "identity_class": "organization"},
      {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--x", "name": "TLP:GREEN",
       "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension", "tlp_2_0": "green"}}},
      {"type": "attack-pattern", "spec_version": "2.1", "id": "attack-pattern--r", "name": "RDP",
       "external_references": [{"source_name": "mitre-attack", "external_id": "T1021.001"}]},
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "created_by_ref": "identity--c",
       "object_marking_refs": ["marking-definition--x"], "name": "Entrée VPN", "confidence": 90,
       "pattern": "[ipv4-addr:value = '203.0.113.45'] OR [ipv6-addr:value = '2001:db8::/32']", "pattern_type": "stix",
       "valid_from": "2026-01-10T00:00:00Z", "valid_until": "2026-07-10T00:00:00Z",
       "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}]},
      {"type": "relationship", "spec_version": "2.1", "id": "relationship--1", "relationship_type": "indicates",
       "source_ref": "indicator--1", "target_ref": "attack-pattern--r"},
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--2", "pattern": "[ipv4-addr:value = '1.2.3.4']",
       "pattern_type": "stix", "valid_from": "2026-01-10T00:00:00Z", "revoked": true},
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--3", "pattern": "alert tcp any any -> any any", "pattern_type": "snort", "valid_from": "2026-01-10T00:00:00Z"},
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--4", "pattern": "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'a.example']", "pattern_type": "stix", "valid_from": "2026-01-10T00:00:00Z"},
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--5", "pattern": "[ipv4-addr:value = 'x.y']", "pattern_type": "stix", "valid_from": "2026-01-10T00:00:00Z"},
      {"type": "indicator", "spec_version": "2.1", "id": "indicator--6", "pattern": "[url:value = 'http://a.example/x' AND url:value != 'http://a.example/y'] START t'2026-02-01T00:00:00Z' STOP t'2026-03-01T00:00:00Z'", "pattern_type": "stix", "valid_from": "2026-01-10T00:00:00Z"}
    ]}"#;
    let i = import_bytes(bundle.as_bytes(), "csirt.json");
    assert_eq!(i.indicators.len(), 2, "{:?}", i.problems);
    let first = &i.indicators[0];
    assert_eq!(first.source.name, "CSIRT Breizh");
    assert_eq!(first.tlp, Some(Tlp::Green));
    assert_eq!(first.confidence, Some(90));
    assert_eq!(first.condition.any.len(), 2);
    let mut tags: Vec<&str> = first.tags.iter().map(|t| &**t).collect();
    tags.sort();
    assert_eq!(tags, ["attack.initial-access", "attack.t1021.001"]);
    let windowed = &i.indicators[1];
    assert_eq!(
        windowed.valid_from.unwrap().to_rfc3339(),
        "2026-02-01T00:00:00+00:00"
    );
    assert_eq!(
        windowed.valid_until.unwrap().to_rfc3339(),
        "2026-03-01T00:00:00+00:00"
    );
    let kinds: Vec<(ProblemKind, &str)> = i
        .problems
        .iter()
        .map(|p| (p.kind, p.place.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (ProblemKind::Revoked, "csirt.json indicator--2"),
            (ProblemKind::Unsupported, "csirt.json indicator--3"),
            (ProblemKind::Unsupported, "csirt.json indicator--4"),
            (ProblemKind::Invalid, "csirt.json indicator--5"),
        ]
    );
    assert!(
        i.problems[2].reason.contains("one event at a time"),
        "{}",
        i.problems[2].reason
    );
    assert_eq!(i.other_objects.get("identity"), Some(&1));
}

#[test]
fn directories_feeds_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("misp-feed");
    std::fs::create_dir_all(&feed).unwrap();
    let uuid = "5f3c1a2b-0000-4000-8000-000000000001";
    std::fs::write(
        feed.join("manifest.json"),
        format!(
            r#"{{"{uuid}": {{"info": "x", "Orgc": {{"name": "CERT-FR"}}, "timestamp": "1"}}}}"#
        ),
    )
    .unwrap();
    std::fs::write(feed.join(format!("{uuid}.json")), r#"{"Event": {"uuid": "5f3c1a2b-0000-4000-8000-000000000001", "info": "x", "Orgc": {"name": "CERT-FR"}, "Attribute": [{"type": "ip-dst", "value": "203.0.113.9", "to_ids": true}]}}"#).unwrap();
    std::fs::write(
        feed.join("hashes.csv"),
        "abc,5f3c1a2b-0000-4000-8000-000000000001\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("list.txt"), "\u{feff}198.51.100.1\n").unwrap();
    std::fs::write(dir.path().join("binary.bin"), [0u8, 159, 146, 150]).unwrap();
    std::fs::write(
        dir.path().join("layer.json"),
        r#"{"name": "x", "domain": "enterprise-attack", "techniques": []}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"type\": \"bundle\",").unwrap();
    let i = import_path(dir.path()).unwrap();
    assert_eq!(values(&i), ["198.51.100.1", "203.0.113.9"]);
    assert_eq!(i.files, 5);
    let kinds: Vec<ProblemKind> = i.problems.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            ProblemKind::NotIndicators,
            ProblemKind::Invalid,
            ProblemKind::NotIndicators
        ]
    );
    // The manifest alone reads the feed it indexes.
    let m = import_path(&feed.join("manifest.json")).unwrap();
    assert_eq!(values(&m), ["203.0.113.9"]);
    assert!(import_path(&dir.path().join("missing")).is_err());
}

/// The typed readers take a field of an unexpected type as absent (as
/// the JSON tree did), read escaped strings, and make a malformed object
/// of a bundle that object's problem, with its place, not the bundle's.
#[test]
fn stix_fields_of_odd_types_and_a_malformed_object_cost_only_themselves() {
    let bundle = r#"{"type": "bundle", "id": "bundle--2", "objects": [
      {"type": "identity", "id": "identity--q", "name": "CSIRT \"Sud\" \u00e9quipe"},
      {"type": "indicator", "id": "indicator--a", "created_by_ref": "identity--q", "confidence": "90",
       "revoked": "true", "object_marking_refs": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
       "kill_chain_phases": [1, {"kill_chain_name": "mitre-attack", "phase_name": "Execution"}],
       "pattern": "[domain-name:value = 'a.example']", "pattern_type": "stix", "valid_from": 12},
      {"type": "indicator", "id": "indicator--b", "pattern": "[ipv4-addr:value = '198.51.100.7']",
       "pattern_type": "stix", "pattern": "[ipv4-addr:value = '198.51.100.8']"},
      "not an object",
      {"type": "indicator", "id": "indicator--c", "pattern": "[url:value = 'http://b.example/\u0078']",
       "pattern_type": "stix", "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]}
    ]}"#;
    let i = import_bytes(bundle.as_bytes(), "odd.json");
    // The object with a key given twice is read as a JSON tree reads it
    // (the last one wins), as before the typed readers: not lost.
    assert_eq!(
        values(&i),
        ["a.example", "198.51.100.8", "http://b.example/x"]
    );
    let a = &i.indicators[0];
    assert_eq!(a.source.name, "CSIRT \"Sud\" équipe");
    assert_eq!(a.confidence, None);
    assert_eq!(a.tlp, None);
    assert_eq!(a.valid_from, None);
    assert_eq!(&*a.tags, ["attack.execution".into()] as [Box<str>; 1]);
    assert_eq!(i.indicators[2].tlp, Some(Tlp::Amber));
    assert!(i.problems.is_empty(), "{:?}", i.problems);
    assert_eq!(i.other_objects.get("(no type)"), Some(&1));
    assert_eq!(i.other_objects.get("identity"), Some(&1));
}

/// A large MISP event (read by chunks side by side) gives its indicators
/// and problems in the document's order, as one pass would; numbers as
/// values, flags as strings and attribute tags read as MISP writes them.
#[test]
fn large_misp_event_in_order_with_every_problem_counted() {
    let mut attrs = Vec::new();
    for n in 0..10_000u32 {
        let (a, b) = (n / 256, n % 256);
        attrs.push(match n % 1000 {
            7 => format!(r#"{{"uuid": "u{n}", "type": "ip-dst", "value": "10.{a}.{b}.1", "to_ids": "0"}}"#),
            8 => format!(r#"{{"uuid": "u{n}", "type": "ip-dst", "value": "bad-{n}", "to_ids": 1}}"#),
            9 => format!(r#"{{"uuid": "u{n}", "type": "ip-dst", "value": "10.{a}.{b}.1", "to_ids": true, "deleted": "1"}}"#),
            10 => format!(r#"{{"uuid": "u{n}", "type": "ip-dst", "value": "10.{a}.{b}.1", "to_ids": true, "Tag": [{{"name": "TLP:RED"}}]}}"#),
            _ => format!(r#"{{"uuid": "u{n}", "type": "ip-dst", "value": "10.{a}.{b}.1", "to_ids": "True"}}"#),
        });
    }
    attrs.push(r#"{"uuid": "num", "type": "filename", "value": 12345, "to_ids": true}"#.into());
    let doc = format!(
        r#"{{"response": [{{"Event": {{"uuid": "e1", "info": "big", "Orgc": {{"name": "CERT-FR"}},
            "Tag": [{{"name": "tlp:green"}}], "Attribute": [{}]}}}}]}}"#,
        attrs.join(",")
    );
    let i = import_bytes(doc.as_bytes(), "big.json");
    assert_eq!(i.indicators.len(), 10_001 - 30);
    let ids: Vec<&str> = i.indicators.iter().map(|x| &*x.id).collect();
    let mut expected: Vec<String> = (0..10_000u32)
        .filter(|n| !matches!(n % 1000, 7..=9))
        .map(|n| format!("u{n}"))
        .collect();
    expected.push("num".into());
    assert_eq!(ids, expected);
    assert_eq!(
        i.indicators.last().unwrap().pattern.as_ref(),
        "filename: 12345"
    );
    assert_eq!(i.indicators[0].tlp, Some(Tlp::Green));
    assert_eq!(i.indicators[7].tlp, Some(Tlp::Red));
    assert_eq!(&*i.indicators[0].source.name, "CERT-FR");
    let places: Vec<&str> = i.problems.iter().map(|p| p.place.as_str()).collect();
    assert_eq!(places.len(), 30);
    assert_eq!(
        &places[..3],
        [
            "big.json event e1 attribute u7",
            "big.json event e1 attribute u8",
            "big.json event e1 attribute u9"
        ]
    );
    assert_eq!(
        i.problems_total.get(&ProblemKind::NotForDetection),
        Some(&10)
    );
    assert_eq!(i.problems_total.get(&ProblemKind::Invalid), Some(&10));
    assert_eq!(i.problems_total.get(&ProblemKind::Revoked), Some(&10));
}

/// The sources named in a `value,type` file's `source` column are made
/// once each and shared by their indicators; quoted fields with doubled
/// quotes still read.
#[test]
fn csv_sources_shared_and_quoted_fields() {
    let text = "value,type,source,comment\n198.51.100.1,ip,CSIRT A,\"say \"\"hi\"\"\"\n198.51.100.2,ip,CSIRT B,x\n198.51.100.3,ip,CSIRT A,\n";
    let i = import_bytes(text.as_bytes(), "v.csv");
    assert_eq!(i.indicators.len(), 3);
    assert!(std::sync::Arc::ptr_eq(
        &i.indicators[0].source,
        &i.indicators[2].source
    ));
    assert_eq!(i.indicators[1].source.name, "CSIRT B");
    assert_eq!(i.indicators[0].name.as_deref(), Some("say \"hi\""));
}

/// A MISP event or attribute with a key given twice loses nothing: read
/// as MISP and a JSON tree read it, the last one wins.
#[test]
fn misp_keys_given_twice_lose_no_indicator() {
    let event = r#"{"Event": {"uuid": "e1", "info": "first", "info": "phishing",
      "Attribute": [
        {"uuid": "a1", "type": "domain", "value": "old.example", "value": "evil.example", "to_ids": true},
        {"uuid": "a2", "type": "ip-dst", "value": "203.0.113.9", "to_ids": true}
      ]}}"#;
    let i = import_bytes(event.as_bytes(), "dup.json");
    assert_eq!(values(&i), ["evil.example", "203.0.113.9"]);
    assert!(i.problems.is_empty(), "{:?}", i.problems);
}
