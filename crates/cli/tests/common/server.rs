//! A `vigie serve` child process for the tests that drive it over HTTP
//! (serve.rs, console.rs), and the demo they send to it.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running server, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `http://…` or `https://…`, as the server said.
    pub base: String,
    /// What it said on stderr before it listened.
    pub said: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` (a `vigie serve …`) until it says where it listens.
pub fn spawn_serve(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let base = loop {
        let Some(line) = lines.next() else {
            panic!("serve ended before saying where it listens: {said:#?}")
        };
        let line = line.unwrap();
        if let Some(at) = line.strip_prefix("vigie serve: listening on ") {
            break at.to_string();
        }
        said.push(line);
    };
    // Keep draining stderr so the child never blocks on it (echoed with
    // its address when VIGIE_TEST_SERVE_STDERR is set, to see what the
    // processes of a failing test said).
    let echo = std::env::var_os("VIGIE_TEST_SERVE_STDERR")
        .is_some()
        .then(|| base.clone());
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(at) = &echo {
                eprintln!("[{at}] {line}");
            }
        }
    });
    Server { child, base, said }
}

/// `vigie demo` written under `dir/demo`; its path.
pub fn make_demo(dir: &Path) -> PathBuf {
    let demo = dir.join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["demo", "--quiet", "--dir"])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    demo
}

/// The JSON Lines files under `dir`, sorted: the demo's events as files.
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(jsonl_files(&p));
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Evidence without its place (a file and line for `hunt`, the log
/// position for `serve`); the places, by kind, in `kinds`.
pub fn without_places(v: &mut Value, kinds: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(o) => {
            if let Some(l) = o.remove("locator") {
                kinds.insert(l["kind"].as_str().unwrap_or_default().to_string());
                o.remove("source");
            }
            o.values_mut().for_each(|x| without_places(x, kinds));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| without_places(x, kinds)),
        _ => {}
    }
}

/// What a scope says that does not depend on how the events were read
/// (files or requests): the natures, the entry point, the attack period,
/// each incident's hosts and accounts, and each host's and account's
/// status, with their evidence but not its places.
pub fn scope_claims(scope: &Value) -> Value {
    let names = |v: &Value, key: &str| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["name"].as_str().unwrap_or_default().to_string(),
                    x["compromised"].to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let incidents: Vec<Value> = scope["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            serde_json::json!([
                i["nature"],
                i["detections"],
                i["hosts"],
                i["accounts"],
                i["first"],
                i["last"]
            ])
        })
        .collect();
    let mut claims = serde_json::json!({
        "nature": scope["nature"].as_array().unwrap().iter().map(|n| (n["kind"].clone(), n["confidence"].clone())).collect::<Vec<_>>(),
        "entry_point": scope["entry_point"],
        "attack_period": scope["attack_period"],
        "incidents": incidents,
        "hosts": names(scope, "hosts"),
        "accounts": names(scope, "accounts"),
        "credential_attacks": scope["credential_attacks"],
    });
    without_places(&mut claims, &mut std::collections::BTreeSet::new());
    claims
}

/// The rows of `list` of `kind` (`detection`, `correlation`).
pub fn of_kind(list: &[Value], kind: &str) -> Vec<Value> {
    list.iter().filter(|d| d["kind"] == kind).cloned().collect()
}

/// `vigie hunt PATH` with the default rules: its single-event
/// detections (timeline rows of kind `detection`).
pub fn hunt_detections(path: &Path, work: &Path) -> Vec<Value> {
    of_kind(&hunt_rows(path, work), "detection")
}

/// Every timeline row of `vigie hunt PATH` (its scope in
/// `work/hunt-scope.json`); `hunt` exits 1 when it found something.
pub fn hunt_rows(path: &Path, work: &Path) -> Vec<Value> {
    let timeline = work.join("hunt.jsonl");
    let h = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .arg("hunt")
        .arg(path)
        .args(["-q", "-o"])
        .arg(&timeline)
        .arg("--scope")
        .arg(work.join("hunt-scope.json"))
        .output()
        .unwrap();
    assert_eq!(
        h.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&h.stderr)
    );
    std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

/// A detection's rule, record and computer.
pub fn detection_keys(list: &[Value]) -> std::collections::BTreeSet<(String, u64, String)> {
    list.iter()
        .map(|d| {
            (
                d["rule_id"].as_str().unwrap().to_string(),
                d["record_id"].as_u64().unwrap_or(0),
                d["computer"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A detection's rule and time, whether from `hunt`'s timeline
/// (`datetime`) or from serve (`time`).
pub fn rule_and_time(d: &Value) -> (String, String) {
    (
        d["rule_id"].as_str().unwrap().to_string(),
        d["datetime"]
            .as_str()
            .or(d["time"].as_str())
            .unwrap()
            .to_string(),
    )
}

/// The demo's hosts as its ground truth tells them (upper case).
pub struct DemoHosts {
    /// `scenario/ground-truth.json`.
    pub truth: Value,
    /// Those the attack reached, and the firewall it came in through.
    pub attack: std::collections::BTreeSet<String>,
    /// The firewall that saw the entry address.
    pub gateway: String,
    /// The server the data left from.
    pub exfil: String,
    /// Every host with logs.
    pub all: std::collections::BTreeSet<String>,
}

/// [`DemoHosts`] of the demo written under `demo`.
pub fn demo_hosts(demo: &Path) -> DemoHosts {
    let truth: Value =
        serde_json::from_slice(&std::fs::read(demo.join("scenario/ground-truth.json")).unwrap())
            .unwrap();
    let host = |v: &Value| v.as_str().unwrap().to_ascii_uppercase();
    let mut attack: std::collections::BTreeSet<String> = truth["compromised_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .chain(truth["gpo_reached_hosts"].as_array().unwrap())
        .map(host)
        .collect();
    let gateway = host(&truth["entry_point"]["vpn_device"]);
    let exfil = host(&truth["exfiltration"]["host"]);
    attack.insert(gateway.clone());
    let all: std::collections::BTreeSet<String> = std::fs::read_dir(demo.join("scenario/logs"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .to_ascii_uppercase()
        })
        .collect();
    assert!(all.len() > attack.len(), "benign hosts to check");
    DemoHosts {
        truth,
        attack,
        gateway,
        exfil,
        all,
    }
}

/// The demo's firewall log with its VPN tunnels coming from abroad (which
/// a single-event rule of the pack reports), written alone under
/// `work/fw/` as `hunt` will read it; its lines.
pub fn fortigate_abroad(demo: &Path, work: &Path) -> (Vec<String>, PathBuf) {
    let lines: Vec<String> = std::fs::read_to_string(demo.join("scenario/logs/FW01/fortigate.log"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.contains("action=\"tunnel-up\"") {
                format!("{l} srccountry=\"Netherlands\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    let dir = work.join("fw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("fortigate.log"), lines.join("\n") + "\n").unwrap();
    (lines, dir)
}

/// The demo's domain controller's Security log copied alone under
/// `work/dc01/`; its path in the demo and that directory.
pub fn dc01_alone(demo: &Path, work: &Path) -> (PathBuf, PathBuf) {
    let file = demo.join("scenario/logs/DC01/Security.jsonl");
    let only = work.join("dc01");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(&file, only.join("Security.jsonl")).unwrap();
    (file, only)
}
