//! Hostile and broken evidence through the `vigie` binary (issue 19):
//! every input is built here at test time (nothing of significant size
//! is committed), the binary runs on it, and each test checks the exit
//! code, the message (naming the file and the place), what was still
//! read, and the bounds:
//!
//! * **memory**: the child's peak resident set, read from
//!   `/usr/bin/time -v` ("Maximum resident set size"), must stay under
//!   the bound each test states (`PEAK_RSS_MIB`, or a tighter one);
//! * **time**: a hang guard, not a speed assertion: the child is killed
//!   after `WALL_LIMIT` and the test fails.
//!
//! Each hunt runs with `--no-rules` (read and parse only) unless a test
//! needs detections, and writes its manifest outside the inputs: the
//! manifest's `inputs[].fate`, `records_read` and `reasons` are what is
//! asserted.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A hang guard: generous for a debug build on a shared 2-core machine.
const WALL_LIMIT: Duration = Duration::from_secs(300);
/// Peak resident memory allowed for a run on inputs of a few MB.
const PEAK_RSS_MIB: u64 = 600;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    peak_rss_mib: u64,
}

impl Run {
    fn both(&self) -> String {
        format!(
            "exit {:?}, peak {} MiB\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.peak_rss_mib, self.stdout, self.stderr
        )
    }
}

/// Runs `vigie args…` in `dir` under `/usr/bin/time -v`, killed after
/// [`WALL_LIMIT`].
fn run(args: &[&str], dir: &Path) -> Run {
    let time_out = dir.join(format!("time-{}.txt", std::process::id()));
    let mut c = Command::new("/usr/bin/time");
    c.arg("-v")
        .arg("-o")
        .arg(&time_out)
        .arg(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C.UTF-8")
        .env_remove("LANG")
        .env_remove("LC_MESSAGES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("/usr/bin/time (Debian package `time`)");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > WALL_LIMIT {
            child.kill().ok();
            child.wait().ok();
            panic!("vigie {args:?} still running after {WALL_LIMIT:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    let time = fs::read_to_string(&time_out).unwrap_or_default();
    let _ = fs::remove_file(&time_out);
    let peak_kib: u64 = time
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in /usr/bin/time output: {time}"));
    // `time` exits 128+n when the child is killed by signal n.
    let code = status.code();
    eprintln!(
        "vigie {}: exit {code:?}, peak {} MiB, {:.1?}",
        args.first().copied().unwrap_or(""),
        peak_kib / 1024,
        start.elapsed()
    );
    assert!(!stderr.contains("panicked"), "vigie panicked: {stderr}");
    Run {
        code,
        stdout,
        stderr,
        peak_rss_mib: peak_kib / 1024,
    }
}

/// A temporary case: `in/` holds the evidence, `out/` the outputs.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("in")).unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        Case { dir }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn input(&self, name: &str) -> PathBuf {
        self.root().join("in").join(name)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.input(name);
        fs::write(&p, bytes).unwrap();
        p
    }
    /// `vigie hunt --no-rules PATHS… --manifest out/m.json` and the
    /// manifest (absent when the run wrote none).
    fn hunt(&self, paths: &[&Path], extra: &[&str]) -> (Run, Option<Value>) {
        let manifest = self.root().join("out/m.json");
        let _ = fs::remove_file(&manifest);
        let mut args: Vec<String> = vec!["hunt".into(), "--no-rules".into()];
        args.extend(paths.iter().map(|p| p.display().to_string()));
        args.extend(["--manifest".into(), manifest.display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, self.root());
        let m = fs::read(&manifest)
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap());
        (r, m)
    }
}

/// The manifest entry of the input whose path ends with `name`.
fn input<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no input {name} in manifest: {m:#}"))
}

fn reasons(i: &Value) -> String {
    i["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// `n` JSON Lines of Windows logons on host `WS1`.
fn good_lines(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "{{\"EventID\":4624,\"Channel\":\"Security\",\"Computer\":\"WS1\",\"TimeCreated\":\"2026-01-09T10:{:02}:{:02}Z\",\"TargetUserName\":\"u{i}\"}}\n",
            (i / 60) % 60,
            i % 60
        ));
    }
    s
}

/// Deterministic noise (xorshift), for damaged heads.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

// ---------------------------------------------------------------- EVTX

/// A corpus EVTX file with at least `min` used chunks (chosen at run
/// time, not fitted to one sample), with its bytes.
fn evtx_with_chunks(min: usize) -> Option<(PathBuf, Vec<u8>)> {
    let corpus = vigie_testkit::corpus(&["evtx-attack-samples"])?;
    let mut files = Vec::new();
    let mut stack = vec![corpus.join("evtx-attack-samples")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "evtx") {
                files.push(p);
            }
        }
    }
    files.sort();
    files.into_iter().find_map(|p| {
        let b = fs::read(&p).ok()?;
        let used = (4096..b.len())
            .step_by(65536)
            .take_while(|&at| b[at..].starts_with(b"ElfChnk\0"))
            .count();
        (used >= min && b.starts_with(b"ElfFile\0")).then_some((p, b))
    })
}

#[test]
fn evtx_with_a_zeroed_header_is_read_from_its_chunk_signatures() {
    let Some((path, bytes)) = evtx_with_chunks(3) else {
        return;
    };
    let case = Case::new();
    let whole = case.write("whole.evtx", &bytes);
    let (r, m) = case.hunt(&[&whole], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    let all = input(&m, "whole.evtx")["records_read"].as_u64().unwrap();
    assert!(all > 0, "{}", r.both());

    // Partial encryption: the first 8 bytes (the ElfFile magic) zeroed.
    let mut damaged = bytes.clone();
    damaged[..8].fill(0);
    let f = case.write("zeroed-head.evtx", &damaged);
    fs::remove_file(&whole).unwrap();
    let (r, m) = case.hunt(&[&f], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    let i = input(&m, "zeroed-head.evtx");
    assert_eq!(r.code, Some(3), "damaged: never an all clear\n{}", r.both());
    assert_eq!(i["format"], "evtx", "{}", r.both());
    assert_eq!(
        i["records_read"].as_u64().unwrap(),
        all,
        "every record of the intact chunks of {} is read",
        path.display()
    );
    assert_eq!(i["fate"], "partly_read");
    assert!(reasons(i).contains("header"), "{}", reasons(i));
    assert!(r.stderr.contains("zeroed-head.evtx"), "{}", r.both());
    assert!(r.peak_rss_mib < PEAK_RSS_MIB, "{}", r.both());
}

#[test]
fn evtx_zeroed_chunk_between_used_chunks_is_damage_not_preallocation() {
    let Some((_, bytes)) = evtx_with_chunks(3) else {
        return;
    };
    let case = Case::new();
    let whole = case.write("whole.evtx", &bytes);
    let (_, m) = case.hunt(&[&whole], &[]);
    let all = input(&m.unwrap(), "whole.evtx")["records_read"]
        .as_u64()
        .unwrap();
    fs::remove_file(&whole).unwrap();
    let mut damaged = bytes;
    damaged[4096 + 65536..4096 + 2 * 65536].fill(0);
    let f = case.write("wiped-chunk.evtx", &damaged);
    let (r, m) = case.hunt(&[&f], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    let i = input(&m, "wiped-chunk.evtx");
    assert_eq!(r.code, Some(3), "{}", r.both());
    assert_eq!(i["fate"], "partly_read");
    let read = i["records_read"].as_u64().unwrap();
    assert!(read > 0 && read < all, "{read} of {all}");
    assert!(
        reasons(i).contains("chunk 1") && reasons(i).contains("zeros"),
        "{}",
        reasons(i)
    );
    // The lost records are counted from the neighbours' record ids.
    assert_eq!(
        i["records_skipped"].as_u64().unwrap(),
        all - read,
        "{}",
        r.both()
    );
}

// ---------------------------------------------------------- JSON Lines

#[test]
fn json_lines_with_a_damaged_first_line_are_read_from_the_next_good_line() {
    let mut random = noise(4096, 19);
    random[0] = 0x80; // not a JSON start
    for (name, head) in [
        ("random-head.jsonl", random),
        ("comment.jsonl", b"# exported by hand\n".to_vec()),
        ("zero.jsonl", b"0\n".to_vec()),
    ] {
        let case = Case::new();
        let mut bytes = head.clone();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(good_lines(50).as_bytes());
        let f = case.write(name, &bytes);
        let (r, m) = case.hunt(&[&f], &[]);
        let m = m.unwrap_or_else(|| panic!("{name}: {}", r.both()));
        let i = input(&m, name);
        assert_eq!(r.code, Some(3), "{name}: {}", r.both());
        assert_eq!(i["records_read"], 50, "{name}: {}", r.both());
        assert_eq!(i["fate"], "partly_read", "{name}");
        assert!(i["records_skipped"].as_u64().unwrap() >= 1, "{name}");
        assert!(reasons(i).contains("line 1"), "{name}: {}", reasons(i));
        assert!(r.stderr.contains(name), "{name}: {}", r.both());
    }
}

#[test]
fn a_file_that_is_no_log_is_not_read_and_says_so() {
    let case = Case::new();
    let f = case.write("photo.bin", &noise(100_000, 7));
    let g = case.write("good.jsonl", good_lines(3).as_bytes());
    let (r, m) = case.hunt(&[&f, &g], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    let i = input(&m, "photo.bin");
    assert_eq!(i["fate"], "not_read");
    assert!(reasons(i).contains("unrecognized format"), "{}", reasons(i));
    assert_eq!(input(&m, "good.jsonl")["fate"], "read");
    assert!(r.stderr.contains("not read: ") && r.stderr.contains("photo.bin"));
}

// ---------------------------------------------------------------- gzip

fn gzip(bytes: &[u8], name: Option<&[u8]>) -> Vec<u8> {
    let mut b = flate2::GzBuilder::new();
    if let Some(n) = name {
        b = b.filename(n);
    }
    let mut e = b.write(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_with_a_one_megabyte_name_field_is_read() {
    let case = Case::new();
    let name = vec![b'n'; 1 << 20];
    let f = case.write(
        "big-name.jsonl.gz",
        &gzip(good_lines(20).as_bytes(), Some(&name)),
    );
    let (r, m) = case.hunt(&[&f], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    let i = input(&m, "big-name.jsonl.gz");
    assert_eq!(r.code, Some(0), "{}", r.both());
    assert_eq!(i["records_read"], 20);
    assert_eq!(i["format"], "gzip+jsonl");
}

#[test]
fn gzip_bomb_stops_at_the_limit_and_keeps_the_good_part() {
    // 1,000 good lines, then 64 members of 16 MiB of zeros each: 1 GiB
    // inflated from about 1 MB. The limit (100× the compressed size, at
    // least 64 MiB) stops it; the lines before are read.
    let case = Case::new();
    let mut bytes = gzip(good_lines(1000).as_bytes(), None);
    let zeros = gzip(&vec![0u8; 16 << 20], None);
    for _ in 0..64 {
        bytes.extend_from_slice(&zeros);
    }
    let compressed = bytes.len() as u64;
    let f = case.write("bomb.jsonl.gz", &bytes);
    drop(bytes);
    let (r, m) = case.hunt(&[&f], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    let i = input(&m, "bomb.jsonl.gz");
    assert_eq!(r.code, Some(3), "{}", r.both());
    assert_eq!(i["records_read"], 1000, "{}", r.both());
    assert_eq!(i["fate"], "partly_read");
    assert!(
        reasons(i).contains("decompression stopped"),
        "{}",
        reasons(i)
    );
    let limit_mib = (compressed * 100).max(64 << 20) >> 20;
    // Unbounded, the run would hold the whole GiB.
    assert!(
        r.peak_rss_mib < limit_mib * 3 + 200 && r.peak_rss_mib < 1024,
        "limit {limit_mib} MiB: {}",
        r.both()
    );
}

// ----------------------------------------------- special files, links

#[test]
fn dev_zero_is_refused_unless_allowed_and_then_bounded() {
    let case = Case::new();
    let g = case.write("good.jsonl", good_lines(5).as_bytes());
    let zero = Path::new("/dev/zero");
    let (r, m) = case.hunt(&[&g, zero], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    let i = input(&m, "/dev/zero");
    assert_eq!(i["fate"], "not_read");
    assert!(reasons(i).contains("character device"), "{}", reasons(i));
    assert!(r.stderr.contains("/dev/zero"), "{}", r.both());
    assert_eq!(input(&m, "good.jsonl")["records_read"], 5);

    let (r, m) = case.hunt(&[&g, zero], &["--allow-special"]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    let i = input(&m, "/dev/zero");
    assert_eq!(i["fate"], "not_read");
    assert!(reasons(i).contains("256 MiB"), "{}", reasons(i));
    assert!(r.peak_rss_mib < 1024, "{}", r.both());
}

#[test]
fn a_fifo_in_a_collection_is_refused_not_waited_on() {
    let case = Case::new();
    case.write("good.jsonl", good_lines(5).as_bytes());
    let fifo = case.input("pipe");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    let (r, m) = case.hunt(&[&case.root().join("in")], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    let i = input(&m, "/pipe");
    assert_eq!(i["fate"], "not_read");
    assert!(reasons(i).contains("FIFO"), "{}", reasons(i));
    assert_eq!(input(&m, "good.jsonl")["records_read"], 5);
}

#[test]
fn symlinks_are_followed_once_and_what_is_not_followed_is_reported() {
    let case = Case::new();
    let inn = case.root().join("in");
    // A directory outside the collection, linked from inside it.
    let elsewhere = case.root().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("dc.jsonl"), good_lines(7)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, inn.join("linked")).unwrap();
    // A loop back to the collection, and a dangling link (a file deleted
    // during collection: a case root cannot read either).
    std::os::unix::fs::symlink(&inn, inn.join("loop")).unwrap();
    std::os::unix::fs::symlink(inn.join("gone.jsonl"), inn.join("dangling.jsonl")).unwrap();
    fs::write(inn.join("ws.jsonl"), good_lines(3)).unwrap();
    let (r, m) = case.hunt(&[&inn], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    assert_eq!(input(&m, "linked/dc.jsonl")["records_read"], 7);
    assert_eq!(input(&m, "ws.jsonl")["records_read"], 3);
    assert_eq!(m["inputs"].as_array().unwrap().len(), 2, "{m:#}");
    assert!(r.stderr.contains("dangling.jsonl"), "{}", r.both());
    assert!(r.stderr.contains("already walked"), "{}", r.both());
}

// --------------------------------------------------------------- times

#[test]
fn times_at_chronos_limits_are_reported_not_panicked_on() {
    let case = Case::new();
    let mut lines = good_lines(2);
    lines.push_str("{\"@timestamp\":8210266876799999,\"EventID\":1,\"Computer\":\"WS1\"}\n");
    lines
        .push_str("{\"@timestamp\":\"9999-12-31T23:59:59Z\",\"EventID\":1,\"Computer\":\"WS1\"}\n");
    let j = case.write("far.jsonl", lines.as_bytes());
    let s = case.write(
        "forti.log",
        b"date=+262142-12-31 time=10:00:00 devname=\"FGT\" type=\"traffic\" srcip=10.0.0.1\n\
          date=2026-01-09 time=10:00:00 devname=\"FGT\" type=\"traffic\" srcip=10.0.0.2\n",
    );
    let (r, m) = case.hunt(&[&j, &s], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    let i = input(&m, "far.jsonl");
    assert_eq!(i["records_read"], 4, "events are kept, without a time");
    assert!(
        reasons(i).contains("outside the years 1970–2100"),
        "{}",
        reasons(i)
    );
    assert!(m["inputs"][0]["last"]
        .as_str()
        .unwrap_or("")
        .starts_with("2026"));
    let i = input(&m, "forti.log");
    assert_eq!(i["records_read"], 2);
    assert!(reasons(i).contains("outside the years"), "{}", reasons(i));

    // A year the syslog reader cannot use is a usage error, not a panic.
    let (r, _) = case.hunt(&[&s], &["--syslog-year=262142"]);
    assert_eq!(r.code, Some(2), "{}", r.both());
}

// --------------------------------------------------------- linear scans

#[test]
fn unclosed_json_documents_are_split_in_linear_time() {
    let case = Case::new();
    // 400 KB of lines opening objects that never close, then a good
    // pretty-printed document.
    let mut s = "{\n".repeat(200_000);
    s.push_str("{\n  \"EventID\": 4624,\n  \"Computer\": \"WS1\"\n}\n");
    let f = case.write("unclosed.json", s.as_bytes());
    let start = Instant::now();
    let (r, m) = case.hunt(&[&f], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    let i = input(&m, "unclosed.json");
    assert_eq!(i["records_read"], 1, "the good document is read");
    assert!(reasons(i).contains("not closed"), "{}", reasons(i));
    eprintln!("unclosed.json: {:?}", start.elapsed());
}

#[test]
fn a_huge_xml_comment_is_scanned_in_linear_time() {
    let case = Case::new();
    // 2.3 MB: events each opening a comment that never closes (every
    // start used to rescan the rest for `-->`), then starts nested past
    // the depth limit.
    let mut s = String::from("<Events>\n");
    s.push_str(&"<Event>x<!-- ".repeat(150_000));
    s.push_str(&"<Event x='1'>".repeat(30_000));
    s.push('\n');
    let f = case.write("comment.xml", s.as_bytes());
    let start = Instant::now();
    let (r, m) = case.hunt(&[&f], &[]);
    // Nothing readable: no event at all is exit 2; what matters is that
    // it ends, says why, and stays small.
    assert!(matches!(r.code, Some(2) | Some(3)), "{}", r.both());
    if let Some(m) = m {
        assert_eq!(input(&m, "comment.xml")["fate"], "partly_read");
    }
    assert!(r.stderr.contains("comment not closed"), "{}", r.both());
    assert!(r.peak_rss_mib < PEAK_RSS_MIB, "{}", r.both());
    eprintln!("comment.xml: {:?}", start.elapsed());
}

// ------------------------------------------------------------ terminal

#[test]
fn control_characters_in_names_never_reach_the_terminal_raw() {
    let case = Case::new();
    let rule = case.root().join("out/rule.yml");
    fs::write(&rule, common::WHOAMI_RULE).unwrap();
    let evil_host = "WS\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}1";
    let evil_user = "adm\u{1b}]52;c;Y2xpcA==\u{7}in";
    let line = serde_json::json!({
        "EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Provider_Name": "Microsoft-Windows-Sysmon",
        "Computer": evil_host, "User": evil_user,
        "Image": "C:\\Windows\\System32\\whoami.exe",
        "UtcTime": "2026-01-09 10:00:00.000",
        "TimeCreated": "2026-01-09T10:00:00Z"
    });
    let f = case.write("evil.jsonl", format!("{line}\n").as_bytes());
    let r = run(
        &[
            "hunt",
            &f.display().to_string(),
            "--no-builtin",
            "--no-sigmahq",
            "--rules",
            &rule.display().to_string(),
        ],
        case.root(),
    );
    assert_eq!(r.code, Some(1), "{}", r.both());
    for (name, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'),
            "raw control characters on {name}: {text:?}"
        );
    }
    assert!(r.stdout.contains("WS"), "{}", r.both());
}

#[test]
fn a_damaged_head_before_many_unclosed_lines_is_sniffed_in_linear_time() {
    // The format search past a damaged head looks at each line once.
    let case = Case::new();
    let mut s = String::from("garbage\n");
    s.push_str(&"{\n".repeat(300_000));
    let f = case.write("head-then-braces.json", s.as_bytes());
    let g = case.write("good.jsonl", good_lines(2).as_bytes());
    let (r, m) = case.hunt(&[&f, &g], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    assert_eq!(r.code, Some(3), "{}", r.both());
    assert_eq!(input(&m, "head-then-braces.json")["fate"], "not_read");
}

#[test]
fn a_text_file_quoting_one_json_line_is_not_taken_for_logs() {
    let case = Case::new();
    let f = case.write(
        "README.txt",
        b"How to export:\n\n{\"EventID\": 4624}\n\nthen copy the file.\n",
    );
    let g = case.write("good.jsonl", good_lines(2).as_bytes());
    let (r, m) = case.hunt(&[&f, &g], &[]);
    let m = m.unwrap_or_else(|| panic!("{}", r.both()));
    let i = input(&m, "README.txt");
    assert_eq!(i["fate"], "not_read", "{}", r.both());
    assert!(reasons(i).contains("unrecognized format"), "{}", reasons(i));
}
