//! The compiled indicator set: compiling 100,000 mixed indicators, and
//! matching events as Sysmon, Security and FortiGate write them against an
//! empty set and against those 100,000 (`cargo bench -p vigie-intel`).
//! The end-to-end figure (hunt with and without `--ioc` on 1 GB) is in
//! docs/benchmarks.md.

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use vigie_event::{Event, Locator, Origin};
use vigie_intel::{
    Condition, Format, HashAlgo, Indicator, MatchOptions, Matcher, Source, Subdomains, Test,
};

fn indicators(n: u64) -> Vec<Indicator> {
    let source = Arc::new(Source {
        name: "bench".into(),
        location: "bench".into(),
        format: Format::List,
    });
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let test = match i % 8 {
                0 => Test::Ip(
                    std::net::IpAddr::from(((r >> 8) as u32 | 0x0100_0000).to_be_bytes()).into(),
                ),
                1 => Test::Ip(
                    ipnet::IpNet::new(std::net::IpAddr::from(((r >> 8) as u32).to_be_bytes()), 24)
                        .unwrap()
                        .trunc(),
                ),
                2 => Test::Domain(format!("d{r:x}.example").into(), Subdomains::Included),
                3 => Test::Url(format!("http://u{r:x}.example/gate.php").into()),
                4 => Test::Hash(
                    HashAlgo::Sha256,
                    format!("{r:016x}{:016x}{:016x}{:016x}", next(), next(), next()).into(),
                ),
                5 => Test::Hash(HashAlgo::Md5, format!("{r:016x}{:016x}", next()).into()),
                6 => Test::Hash(HashAlgo::Imphash, format!("{r:016x}{:016x}", next()).into()),
                _ => Test::FileName(format!("t{r:x}.exe").into()),
            };
            Indicator {
                id: format!("i{i}").into(),
                name: None,
                pattern: "p".into(),
                condition: Condition::single(test),
                source: source.clone(),
                tlp: None,
                valid_from: None,
                valid_until: None,
                confidence: None,
                tags: vec![],
                description: None,
            }
        })
        .collect()
}

fn events() -> Vec<Event> {
    let origin = Origin {
        source: Arc::from("bench.evtx"),
        locator: Locator::Record(1),
    };
    let mk = |fields: &[(&str, &str)]| {
        let mut e = Event::new(origin.clone());
        e.timestamp = Some(chrono::Utc::now());
        for (k, v) in fields {
            e.push(*k, *v);
        }
        e
    };
    vec![
        mk(&[("EventID", "1"), ("Channel", "Microsoft-Windows-Sysmon/Operational"), ("UtcTime", "2026-01-10 02:30:00.000"), ("ProcessGuid", "{a}"), ("ProcessId", "4242"), ("Image", r"C:\Windows\System32\net.exe"), ("FileVersion", "10.0"), ("Description", "Net Command"), ("Product", "Microsoft Windows"), ("Company", "Microsoft Corporation"), ("OriginalFileName", "net.exe"), ("CommandLine", "net group \"Admins du domaine\" /domain"), ("CurrentDirectory", r"C:\Users\x\"), ("User", r"CCPAB\presta.maint"), ("LogonGuid", "{b}"), ("LogonId", "0x3e7"), ("TerminalSessionId", "2"), ("IntegrityLevel", "High"), ("Hashes", "MD5=0123456789ABCDEF0123456789ABCDEF,SHA256=ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB,IMPHASH=FEDCBA9876543210FEDCBA9876543210"), ("ParentProcessGuid", "{c}"), ("ParentProcessId", "4000"), ("ParentImage", r"C:\Windows\System32\cmd.exe"), ("ParentCommandLine", "cmd.exe"), ("ParentUser", r"CCPAB\presta.maint")]),
        mk(&[("EventID", "3"), ("Channel", "Microsoft-Windows-Sysmon/Operational"), ("Image", r"C:\ProgramData\rclone.exe"), ("User", r"CCPAB\x"), ("Protocol", "tcp"), ("Initiated", "true"), ("SourceIsIpv6", "false"), ("SourceIp", "10.0.10.23"), ("SourceHostname", "SRV-FIC01.ccpab.local"), ("SourcePort", "50123"), ("DestinationIsIpv6", "false"), ("DestinationIp", "203.0.113.131"), ("DestinationHostname", "gfs214n102.userstorage.mega.co.nz"), ("DestinationPort", "443")]),
        mk(&[("EventID", "22"), ("Channel", "Microsoft-Windows-Sysmon/Operational"), ("QueryName", "relay-4f7c21a8.net.anydesk.com"), ("QueryStatus", "0"), ("QueryResults", "type:  5 boot.net.anydesk.com;::ffff:203.0.113.9;"), ("Image", r"C:\Users\x\Downloads\AnyDesk.exe")]),
        mk(&[("EventID", "4624"), ("Channel", "Security"), ("SubjectUserSid", "S-1-5-18"), ("SubjectUserName", "SRV-RDS01$"), ("TargetUserName", "presta.maint"), ("TargetDomainName", "CCPAB"), ("LogonType", "10"), ("LogonProcessName", "User32"), ("AuthenticationPackageName", "Negotiate"), ("WorkstationName", "SRV-RDS01"), ("IpAddress", "10.212.134.11"), ("IpPort", "0"), ("ProcessName", r"C:\Windows\System32\svchost.exe")]),
        mk(&[("devname", "FW01"), ("type", "traffic"), ("subtype", "forward"), ("srcip", "10.0.10.23"), ("srcport", "50123"), ("dstip", "203.0.113.131"), ("dstport", "443"), ("action", "close"), ("service", "HTTPS"), ("hostname", "gfs214n102.userstorage.mega.co.nz"), ("sentbyte", "1048576")]),
    ]
}

fn bench(c: &mut Criterion) {
    let events = events();
    let empty = Matcher::empty();
    c.bench_function("compile 100,000 indicators", |b| {
        b.iter_batched(
            || indicators(100_000),
            |i| Matcher::compile(i, MatchOptions::default()),
            criterion::BatchSize::LargeInput,
        )
    });
    let (big, _) = Matcher::compile(indicators(100_000), MatchOptions::default());
    let mut out = Vec::new();
    c.bench_function("5 events, no indicator", |b| {
        b.iter(|| {
            for e in &events {
                out.clear();
                empty.evaluate(black_box(e), &mut out);
            }
        })
    });
    c.bench_function("5 events, 100,000 indicators", |b| {
        b.iter(|| {
            for e in &events {
                out.clear();
                big.evaluate(black_box(e), &mut out);
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
