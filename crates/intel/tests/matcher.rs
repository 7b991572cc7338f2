//! The compiled indicator set: its semantics on events as sources write
//! them, and, on the EVTX attack samples, the same answers as a plain scan
//! of every indicator with 100,000 decoys in the set.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use vigie_detect::Level;
use vigie_event::{Event, Locator, Origin, Value};
use vigie_intel::matcher::fields;
use vigie_intel::{
    import_bytes, normalize, Condition, Format, Indicator, MatchOptions, Matcher, Source,
    Subdomains, Term, Test, Tlp,
};

fn event(fields: &[(&str, &str)], time: &str) -> Event {
    let mut e = Event::new(Origin {
        source: Arc::from("test.jsonl"),
        locator: Locator::Line(1),
    });
    e.timestamp = Some(common::t(time));
    for (k, v) in fields {
        e.push(*k, *v);
    }
    e
}

fn indicator(id: &str, condition: Condition) -> Indicator {
    Indicator {
        id: id.into(),
        name: None,
        pattern: id.into(),
        condition,
        source: Arc::new(Source {
            name: "CSIRT Bretagne".into(),
            location: "feed.json".into(),
            format: Format::Stix,
        }),
        tlp: Some(Tlp::Amber),
        valid_from: None,
        valid_until: None,
        confidence: None,
        tags: vec![],
        description: None,
    }
}

fn hits(m: &Matcher, e: &Event) -> Vec<String> {
    let mut out = Vec::new();
    m.hits(e, &mut out);
    out.iter()
        .map(|h| m.indicator(h.indicator).id.to_string())
        .collect()
}

fn from_list(text: &str) -> Matcher {
    let i = import_bytes(text.as_bytes(), "list.txt");
    assert!(i.problems.is_empty(), "{:?}", i.problems);
    Matcher::compile(i.indicators, MatchOptions::default()).0
}

#[test]
fn addresses_and_networks_in_every_address_field() {
    let m = from_list("203.0.113.45\n198.51.100.0/24\n2001:db8:66::/48\n10.0.0.1-10.0.0.6\n");
    let id = |m: &Matcher, e: &Event| hits(m, e).len();
    for (field, value) in [
        ("DestinationIp", "203.0.113.45"),
        ("IpAddress", "::ffff:203.0.113.45"),
        ("srcip", "198.51.100.77"),
        ("remip", "203.0.113.45"),
        ("DestAddress", "2001:db8:66:1::5"),
        ("destination.ip", "198.51.100.1"),
        ("dst_ip", "10.0.0.4"),
        ("Param3", "203.0.113.45"),
        ("destinationip", "203.0.113.45"),
    ] {
        assert_eq!(
            id(&m, &event(&[(field, value)], "2026-01-10T00:00:00Z")),
            1,
            "{field}={value}"
        );
    }
    for (field, value) in [
        ("DestinationIp", "203.0.113.46"),
        ("srcip", "198.51.101.1"),
        ("dst_ip", "10.0.0.7"),
        ("CommandLine", "ping 203.0.113.45"),
        ("TargetUserName", "203.0.113.45"),
        ("DestinationIp", "-"),
    ] {
        assert_eq!(
            id(&m, &event(&[(field, value)], "2026-01-10T00:00:00Z")),
            0,
            "{field}={value}"
        );
    }
    // One detection per indicator, however many fields carry it.
    let e = event(
        &[
            ("SourceIp", "203.0.113.45"),
            ("DestinationIp", "203.0.113.45"),
        ],
        "2026-01-10T00:00:00Z",
    );
    assert_eq!(hits(&m, &e).len(), 1);
}

#[test]
fn domains_cover_their_subdomains_as_asked() {
    let mut ind = vec![
        indicator(
            "included",
            Condition::single(Test::Domain("evil.example".into(), Subdomains::Included)),
        ),
        indicator(
            "excluded",
            Condition::single(Test::Domain("host.example".into(), Subdomains::Excluded)),
        ),
        indicator(
            "only",
            Condition::single(Test::Domain("cdn.example".into(), Subdomains::Only)),
        ),
    ];
    ind.push(indicator(
        "url",
        Condition::single(Test::Url(
            normalize::url("http://evil.example/gate.php")
                .unwrap()
                .into(),
        )),
    ));
    let (m, _) = Matcher::compile(ind, MatchOptions::default());
    let at = "2026-01-10T00:00:00Z";
    let h = |f: &str, v: &str| hits(&m, &event(&[(f, v)], at));
    assert_eq!(h("QueryName", "evil.example"), ["included"]);
    assert_eq!(h("QueryName", "A.B.Evil.Example."), ["included"]);
    assert!(h("QueryName", "notevil.example").is_empty());
    assert_eq!(h("DestinationHostname", "host.example"), ["excluded"]);
    assert!(h("DestinationHostname", "www.host.example").is_empty());
    assert!(h("dns.question.name", "cdn.example").is_empty());
    assert_eq!(h("dns.question.name", "x.cdn.example"), ["only"]);
    // A URL's host is a name too; the URL itself matches in any spelling.
    let mut got = h("url", "HTTP://EVIL.example:80/a/../gate.php#x");
    got.sort();
    assert_eq!(got, ["included", "url"]);
    // FortiGate writes the path in `url` and the host in `hostname`.
    let e = event(&[("hostname", "evil.example"), ("url", "/gate.php")], at);
    let mut got = hits(&m, &e);
    got.sort();
    assert_eq!(got, ["included", "url"]);
    // Sysmon 22 answers: a CNAME under a bad domain.
    assert_eq!(
        h(
            "QueryResults",
            "type:  5 x.evil.example;::ffff:198.51.100.9;"
        ),
        ["included"]
    );
}

#[test]
fn digests_and_file_names() {
    let md5 = "0123456789ABCDEF0123456789ABCDEF";
    let sha256 = "ab".repeat(32);
    let imphash = "fedcba9876543210fedcba9876543210";
    let text = format!("{md5}\n{} rclone\n", sha256.to_uppercase());
    let i = import_bytes(text.as_bytes(), "hashes.txt");
    let mut ind = i.indicators;
    ind.push(indicator(
        "imphash",
        Condition::single(Test::Hash(vigie_intel::HashAlgo::Imphash, imphash.into())),
    ));
    ind.push(indicator(
        "name",
        Condition::single(Test::FileName("adfind.exe".into())),
    ));
    let (m, _) = Matcher::compile(ind, MatchOptions::default());
    let at = "2026-01-10T00:00:00Z";
    let e = event(
        &[(
            "Hashes",
            &format!(
                "SHA1=AA,MD5={md5},SHA256={sha256},IMPHASH={}",
                imphash.to_uppercase()
            ),
        )],
        at,
    );
    assert_eq!(hits(&m, &e).len(), 3);
    assert_eq!(
        hits(&m, &event(&[("file.hash.sha256", &sha256)], at)).len(),
        1
    );
    assert_eq!(
        hits(&m, &event(&[("Hashes", &md5.to_lowercase())], at)).len(),
        1
    );
    for (f, v) in [
        ("Image", r"C:\Users\x\Downloads\AdFind.exe"),
        ("TargetFilename", r"C:\Windows\Temp\ADFIND.EXE"),
        ("process.executable", "/tmp/adfind.exe"),
        ("ImagePath", r#""C:\ProgramData\AdFind.exe" -sc"#),
        ("Application", r"\device\harddiskvolume2\tools\adfind.exe"),
    ] {
        assert_eq!(hits(&m, &event(&[(f, v)], at)), ["name"], "{f}");
    }
    assert!(hits(&m, &event(&[("CommandLine", r"adfind.exe -f x")], at)).is_empty());
}

#[test]
fn validity_is_judged_at_the_event_time() {
    let mut ind = indicator(
        "ip",
        Condition::single(Test::Ip("203.0.113.45/32".parse().unwrap())),
    );
    ind.valid_from = Some(common::t("2026-03-01T00:00:00Z"));
    ind.valid_until = Some(common::t("2026-06-01T00:00:00Z"));
    ind.confidence = Some(80);
    let (m, _) = Matcher::compile(vec![ind], MatchOptions::default());
    let at = |t: &str| {
        let mut out = Vec::new();
        m.evaluate(&event(&[("dstip", "203.0.113.45")], t), &mut out);
        out
    };
    // Within validity: high, as its confidence says.
    let inside = at("2026-04-01T00:00:00Z");
    assert_eq!(inside[0].rule.level, Some(Level::High));
    // Weeks before publication: still found, one level lower, said so.
    let before = at("2026-01-20T00:00:00Z");
    assert_eq!(before[0].rule.level, Some(Level::Medium));
    assert!(before[0]
        .matched
        .iter()
        .any(|f| f.field.as_deref() == Some("valid_from")));
    // Long before, or after it expired: not the same address any more.
    assert!(at("2025-06-01T00:00:00Z").is_empty());
    assert!(at("2026-06-01T00:00:00Z").is_empty());
    // An event without time cannot be placed: it matches.
    let mut e = event(&[("dstip", "203.0.113.45")], "2026-04-01T00:00:00Z");
    e.timestamp = None;
    let mut out = Vec::new();
    m.evaluate(&e, &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn a_match_names_the_indicator_its_source_and_tlp() {
    let a = indicator(
        "a",
        Condition::single(Test::Ip("203.0.113.45/32".parse().unwrap())),
    );
    let mut b = a.clone();
    b.id = "b".into();
    b.source = Arc::new(Source {
        name: "abuse.ch ThreatFox".into(),
        location: "x.csv".into(),
        format: Format::ThreatFox,
    });
    b.tlp = Some(Tlp::Clear);
    let (m, report) = Matcher::compile(vec![a, b], MatchOptions::default());
    assert_eq!((report.indicators, report.entries), (2, 1));
    let mut out = Vec::new();
    m.evaluate(
        &event(&[("DestinationIp", "203.0.113.45")], "2026-01-10T00:00:00Z"),
        &mut out,
    );
    assert_eq!(out.len(), 1, "one detection for one condition");
    let r = &out[0].rule;
    assert_eq!(r.id.as_deref(), Some("a"));
    assert!(
        r.title.contains("CSIRT Bretagne") && r.title.contains("TLP:AMBER"),
        "{}",
        r.title
    );
    assert!(r.tags.iter().any(|t| t == "ioc") && r.tags.iter().any(|t| t == "tlp.amber"));
    let fields: HashMap<String, String> = out[0]
        .matched
        .iter()
        .map(|f| (f.field.clone().unwrap_or_default(), f.value.clone()))
        .collect();
    assert_eq!(fields["DestinationIp"], "203.0.113.45");
    assert_eq!(fields["also"], "abuse.ch ThreatFox (TLP:CLEAR)");
    assert_eq!(fields["tlp"], "TLP:AMBER");

    // The other way round: the source named first carries no label (a
    // plain list) or a laxer one; the detection still carries the
    // strictest label of all its sources, once.
    for first in [None, Some(Tlp::Green)] {
        let mut list = indicator(
            "list",
            Condition::single(Test::Ip("203.0.113.45/32".parse().unwrap())),
        );
        list.tlp = first;
        let mut red = list.clone();
        red.id = "red".into();
        red.tlp = Some(Tlp::Red);
        let (m, _) = Matcher::compile(vec![list, red], MatchOptions::default());
        let mut out = Vec::new();
        m.evaluate(
            &event(&[("DestinationIp", "203.0.113.45")], "2026-01-10T00:00:00Z"),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let tlp_tags: Vec<&String> = out[0]
            .rule
            .tags
            .iter()
            .filter(|t| t.starts_with("tlp."))
            .collect();
        assert_eq!(tlp_tags, ["tlp.red"], "{first:?}");
        let tlp: Vec<&str> = out[0]
            .matched
            .iter()
            .filter(|f| f.field.as_deref() == Some("tlp"))
            .map(|f| f.value.as_str())
            .collect();
        assert_eq!(tlp, ["TLP:RED"], "{first:?}");
    }
}

#[test]
fn conjunctions_negations_and_patterns() {
    let bundle = r#"{"type":"bundle","id":"bundle--1","objects":[
      {"type":"indicator","spec_version":"2.1","id":"indicator--and","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z",
       "pattern":"[file:name = 'svchost.exe' AND file:hashes.MD5 NOT = '0123456789abcdef0123456789abcdef']"},
      {"type":"indicator","spec_version":"2.1","id":"indicator--like","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z",
       "pattern":"[url:value LIKE 'http://%/wp-content/%.php']"},
      {"type":"indicator","spec_version":"2.1","id":"indicator--re","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z",
       "pattern":"[domain-name:value MATCHES '^[a-z0-9]{16}\\\\.onion\\\\.example$']"}
    ]}"#;
    let i = import_bytes(bundle.as_bytes(), "b.json");
    assert!(i.problems.is_empty(), "{:?}", i.problems);
    let (m, _) = Matcher::compile(i.indicators, MatchOptions::default());
    let at = "2026-01-10T00:00:00Z";
    let good = "MD5=0123456789ABCDEF0123456789ABCDEF";
    let bad = "MD5=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
    assert!(hits(
        &m,
        &event(
            &[
                ("Image", r"C:\Windows\System32\svchost.exe"),
                ("Hashes", good)
            ],
            at
        )
    )
    .is_empty());
    assert_eq!(
        hits(
            &m,
            &event(
                &[("Image", r"C:\Users\Public\svchost.exe"), ("Hashes", bad)],
                at
            )
        ),
        ["indicator--and"]
    );
    assert_eq!(
        hits(
            &m,
            &event(
                &[("url.full", "http://blog.example/wp-content/x/up.php")],
                at
            )
        ),
        ["indicator--like"]
    );
    assert!(hits(
        &m,
        &event(
            &[("url.full", "http://blog.example/wp-content/x/up.phpx")],
            at
        )
    )
    .is_empty());
    assert_eq!(
        hits(
            &m,
            &event(&[("QueryName", "abcdefgh12345678.onion.example")], at)
        ),
        ["indicator--re"]
    );
    assert!(hits(&m, &event(&[("QueryName", "abc.onion.example")], at)).is_empty());
}

/// What a plain scan says: the test's own reading of the event, value by
/// value, against every chosen indicator.
fn oracle(e: &Event, chosen: &[(String, Test)]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let text = |v: &Value| v.to_text().to_string();
    for (id, test) in chosen {
        let found = e.fields.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            let v = text(v);
            // Sysmon 22 answers hold names and addresses.
            let answers: Vec<String> = if k == "queryresults" {
                fields::dns_results(&v).map(str::to_string).collect()
            } else {
                Vec::new()
            };
            let hosts =
                ["queryname", "destinationhostname", "sourcehostname"].contains(&k.as_str());
            match test {
                Test::Ip(n) => {
                    let in_net = |s: &str| normalize::ip(s).is_some_and(|a| n.contains(&a));
                    ([
                        "sourceip",
                        "destinationip",
                        "ipaddress",
                        "sourceaddress",
                        "destaddress",
                        "address",
                        "param3",
                    ]
                    .contains(&k.as_str())
                        || hosts)
                        && in_net(&v)
                        || answers.iter().any(|a| in_net(a))
                }
                Test::Domain(d, _) => {
                    let under = |s: &str| {
                        let s = s.trim_end_matches('.').to_ascii_lowercase();
                        s == **d || s.ends_with(&format!(".{d}"))
                    };
                    hosts && normalize::ip(&v).is_none() && under(&v)
                        || answers
                            .iter()
                            .any(|a| normalize::ip(a).is_none() && under(a))
                }
                Test::Hash(_, h) => {
                    (k == "hashes" || k == "hash")
                        && v.split(',').any(|p| {
                            p.split('=')
                                .nth(1)
                                .is_some_and(|x| x.eq_ignore_ascii_case(h))
                        })
                }
                Test::FileName(n) => {
                    let path = if k == "imagepath" || k == "servicefilename" {
                        fields::command_path(&v)
                    } else {
                        &v
                    };
                    [
                        "image",
                        "parentimage",
                        "targetfilename",
                        "imageloaded",
                        "newprocessname",
                        "parentprocessname",
                        "originalfilename",
                        "application",
                        "imagepath",
                        "servicefilename",
                    ]
                    .contains(&k.as_str())
                        && normalize::file_name(path).as_deref() == Some(&**n)
                }
                _ => false,
            }
        });
        if found {
            out.insert(id.clone());
        }
    }
    out
}

#[test]
fn answers_like_a_plain_scan_on_real_logs_among_100000_indicators() {
    let Some(corpus) = vigie_testkit::corpus(&["evtx-attack-samples"]) else {
        return;
    };
    let mut files = Vec::new();
    for dir in ["Command and Control", "Lateral Movement", "Execution"] {
        for f in std::fs::read_dir(corpus.join("evtx-attack-samples").join(dir))
            .unwrap()
            .flatten()
        {
            if f.path().extension().is_some_and(|x| x == "evtx") {
                files.push(f.path());
            }
        }
    }
    files.sort();
    let events: Mutex<Vec<Event>> = Mutex::new(Vec::new());
    let opts = vigie_source::ReadOptions {
        sha256: false,
        ..Default::default()
    };
    for f in &files {
        vigie_source::read_file(f, &opts, &|b| events.lock().unwrap().extend(b.events));
    }
    let events = events.into_inner().unwrap();
    assert!(events.len() > 1000, "{} events", events.len());

    // Indicators from what the logs hold: addresses (and the /24 of a
    // few), names, digests, file names — one in seven values seen.
    let mut chosen: Vec<(String, Test)> = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &events {
        for (k, v) in &e.fields {
            let v = v.to_text();
            let test = match &**k {
                "DestinationIp" | "SourceIp" | "IpAddress" | "DestAddress" => {
                    normalize::ip(&v).map(|a| Test::Ip(a.into()))
                }
                "QueryName" | "DestinationHostname" => normalize::domain(&v)
                    .filter(|d| normalize::looks_like_domain(d))
                    .map(|d| Test::Domain(d.into(), Subdomains::Included)),
                "Hashes" => v
                    .split(',')
                    .find_map(|p| p.strip_prefix("SHA256=").or_else(|| p.strip_prefix("MD5=")))
                    .and_then(normalize::hash)
                    .map(|(a, h)| Test::Hash(a, h.into())),
                "Image" | "TargetFilename" => {
                    normalize::file_name(&v).map(|n| Test::FileName(n.into()))
                }
                _ => None,
            };
            if let Some(t) = test {
                let key = format!("{t:?}");
                if seen.insert(key.clone()) && seen.len() % 7 == 0 {
                    chosen.push((format!("real-{}", chosen.len()), t));
                }
            }
        }
    }
    let nets: Vec<(String, Test)> = chosen
        .iter()
        .filter_map(|(_, t)| match t {
            Test::Ip(n) if n.addr().is_ipv4() => {
                Some(Test::Ip(ipnet::IpNet::new(n.addr(), 24).unwrap().trunc()))
            }
            _ => None,
        })
        .take(3)
        .enumerate()
        .map(|(i, t)| (format!("net-{i}"), t))
        .collect();
    chosen.extend(nets);
    assert!(
        chosen.len() > 20,
        "{} indicators from the logs",
        chosen.len()
    );

    // 100,000 decoys of every kind, from a fixed generator.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut indicators: Vec<Indicator> = chosen
        .iter()
        .map(|(id, t)| {
            indicator(
                id,
                Condition {
                    any: vec![vec![Term::is(t.clone())]],
                },
            )
        })
        .collect();
    for i in 0..100_000u64 {
        let r = next();
        let t = match i % 5 {
            0 => Test::Ip(
                std::net::IpAddr::from(((r >> 8) as u32 | 0x0100_0000).to_be_bytes()).into(),
            ),
            1 => Test::Domain(format!("d{r:x}.example").into(), Subdomains::Included),
            2 => Test::Hash(
                vigie_intel::HashAlgo::Sha256,
                format!("{r:016x}{:016x}{r:016x}{:016x}", next(), next()).into(),
            ),
            3 => Test::Hash(
                vigie_intel::HashAlgo::Md5,
                format!("{r:016x}{:016x}", next()).into(),
            ),
            _ => Test::FileName(format!("t{r:x}.exe").into()),
        };
        indicators.push(indicator(&format!("decoy-{i}"), Condition::single(t)));
    }
    let (m, report) = Matcher::compile(indicators, MatchOptions::default());
    assert!(report.rejected.is_empty());
    let mut total = 0;
    for e in &events {
        let got: BTreeSet<String> = hits(&m, e).into_iter().collect();
        let want = oracle(e, &chosen);
        assert_eq!(got, want, "event {}", e.origin);
        total += got.len();
    }
    assert!(total > 50, "{total} matches");
}
