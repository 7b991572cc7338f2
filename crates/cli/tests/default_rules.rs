//! `vigie hunt PATH` with no option (Vigie's pack + the vetted SigmaHQ
//! snapshot) on real recordings of a common Active Directory intrusion, and
//! how the run names the SigmaHQ snapshot it used.
//!
//! The recordings named in issue 11 (a password spray, Kerberoasting and
//! WinRM against the domain controller, an Empire PsExec, a WMIC backdoor
//! user) are stood for by their counterparts in the shared corpus: the
//! Kerberos spray of `kerberos_pwd_spray_4771.evtx`, WinRM shells on a
//! domain controller, Empire's service-based lateral movement and Empire's
//! WMI execution recorded by OTRF. The corpus has no Kerberoasting
//! recording; the Kerberoasting rules are tested on the real 4769 layout in
//! their sidecar files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn corpus() -> Option<PathBuf> {
    vigie_testkit::corpus(&["evtx-attack-samples", "security-datasets/windows"])
}

/// Runs `vigie` in `dir` with an empty data directory, so that a snapshot a
/// developer installed with `vigie rules update` does not change the result.
fn vigie(args: &[&str], dir: &Path, data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .current_dir(dir)
        .env("VIGIE_DATA_DIR", data)
        .env("LANG", "C")
        .output()
        .expect("run vigie")
}

/// Titles of the rows of a JSON Lines timeline.
fn titles(timeline: &Path) -> Vec<String> {
    std::fs::read_to_string(timeline)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["rule_title"].as_str().unwrap().to_string()
        })
        .collect()
}

fn manifest(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// (input under the corpus, rules that must fire on it with no option).
const CASES: &[(&str, &[&str])] = &[
    (
        // Kerberos password spray: unknown names and wrong passwords for
        // nine accounts from one address in a second.
        "evtx-attack-samples/Credential Access/kerberos_pwd_spray_4771.evtx",
        &["Password Spray Against the Domain (Failed Kerberos or NTLM Authentications for Many Accounts From One Client)"],
    ),
    (
        // A WinRM shell opened on a domain controller (DC1).
        "evtx-attack-samples/Lateral Movement/LM_winrm_target_wrmlogs_91_wsmanShellStarted_poorLog.evtx",
        &["WinRM Remote Shell Opened on This Host (PowerShell Remoting or WinRS)"],
    ),
    (
        "evtx-attack-samples/Lateral Movement/LM_PowershellRemoting_sysmon_1_wsmprovhost.evtx",
        &[
            "Program Started Through PowerShell Remoting or WinRS",
            "Remote PowerShell Session Host Process (WinRM)",
        ],
    ),
    (
        "evtx-attack-samples/Credential Access/CA_DCSync_4662.evtx",
        &[
            "Directory Replication Requested by a User Account (DCSync)",
            "Active Directory Replication from Non Machine Account - DcSync Indicator",
        ],
    ),
    (
        "evtx-attack-samples/Lateral Movement/LM_ScheduledTask_ATSVC_target_host.evtx",
        &["Scheduled Task Created or Changed From a Network Logon Session (Remote Scheduled Task)"],
    ),
    (
        // Empire's service-based lateral movement (Invoke-SMBExec: the
        // PsExec technique) onto WORKSTATION6.
        "security-datasets/windows/lateral_movement/host/empire_smbexec_dcerpc_smb_svcctl.zip",
        &[
            "Service Installed From a Network Logon Session (Remote Service Creation)",
            "Service Installed Within a Minute of a Network Logon (Possible Remote Service Creation)",
        ],
    ),
    (
        "security-datasets/windows/lateral_movement/host/covenant_sharpsc_create_dcerpc_smb_svcctl.zip",
        &["Service Installed From a Network Logon Session (Remote Service Creation)"],
    ),
    (
        // Empire's WMI execution (the WMIC backdoor user runs `net user
        // /add` the same way).
        "security-datasets/windows/lateral_movement/host/empire_wmi_dcerpc_wmi_IWbemServices_ExecMethod.zip",
        &["Program Started by WMI in a Network Logon Session (Remote WMI Execution)"],
    ),
    (
        "security-datasets/windows/credential_access/host/empire_dcsync_dcerpc_drsuapi_DsGetNCChanges.zip",
        &["Directory Replication Requested by a User Account (DCSync)"],
    ),
];

#[test]
fn hunt_with_no_option_detects_a_common_active_directory_intrusion() {
    let Some(root) = corpus() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut problems = Vec::new();
    for (i, (input, want)) in CASES.iter().enumerate() {
        // OTRF recordings are hunted as shipped, zipped.
        let target = root.join(input);
        let timeline = tmp.path().join(format!("t{i}.jsonl"));
        let out = vigie(
            &[
                "hunt",
                target.to_str().unwrap(),
                "-o",
                timeline.to_str().unwrap(),
            ],
            tmp.path(),
            &data,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        // 1: detections; 4: detections, some input not fully read.
        if !matches!(out.status.code(), Some(1 | 4)) || stdout.contains("No attack found") {
            problems.push(format!(
                "{input}: exit {:?}\n{stdout}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let got = titles(&timeline);
        for t in *want {
            if !got.iter().any(|g| g == t) {
                problems.push(format!("{input}: {t} did not fire (fired: {got:?})"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn summary_manifest_and_rules_check_name_the_sigmahq_snapshot_and_its_license() {
    let Some(root) = corpus() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sample = root.join("evtx-attack-samples/Credential Access/CA_DCSync_4662.evtx");
    let sample = sample.to_str().unwrap();

    let out = vigie(&["hunt", sample, "-o", "t.jsonl"], tmp.path(), &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("SigmaHQ snapshot:"))
        .unwrap_or_else(|| panic!("no snapshot line in\n{stdout}"));
    assert!(line.contains("8eaafff"), "{line}");
    assert!(line.contains("Detection Rule License"), "{line}");
    let m = manifest(&tmp.path().join("t.jsonl.manifest.json"));
    let s = &m["rules"]["sigmahq"];
    assert_eq!(s["origin"], "embedded");
    assert_eq!(s["commit"], "8eaafff");
    assert_eq!(s["commit_date"], "2026-08-05");
    assert!(s["rules"].as_u64().unwrap() > 1000, "{s}");
    assert!(s["attribution"]
        .as_str()
        .unwrap()
        .contains("Detection Rule License"));
    let with = m["rules"]["compiled"].as_u64().unwrap();

    // --no-sigmahq: the pack alone, and the manifest says nothing of SigmaHQ.
    let out = vigie(
        &["hunt", sample, "--no-sigmahq", "-o", "u.jsonl"],
        tmp.path(),
        &data,
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("SigmaHQ snapshot"));
    let m = manifest(&tmp.path().join("u.jsonl.manifest.json"));
    assert!(m["rules"].get("sigmahq").is_none(), "{}", m["rules"]);
    assert!(m["rules"]["compiled"].as_u64().unwrap() + 1000 < with);

    let out = vigie(&["rules", "check"], tmp.path(), &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("SigmaHQ snapshot: commit 8eaafff (2026-08-05)"),
        "{stdout}"
    );
    let out = vigie(&["rules", "check", "--json"], tmp.path(), &data);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sigmahq"]["commit"], "8eaafff");
    assert!(v["failures"].as_array().unwrap().is_empty());
}

#[test]
fn a_newer_snapshot_installed_by_rules_update_is_the_one_hunt_uses() {
    let Some(root) = corpus() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let installed = data.join("sigmahq");
    std::fs::create_dir_all(installed.join("rules/windows")).unwrap();
    // A release newer than the embedded snapshot, holding one high rule.
    std::fs::write(
        installed.join("rules/windows/dcsync.yml"),
        "title: DCSync From the Installed Release\nid: 0c5a5a1e-5d8e-4f6b-9a51-6f1f3d2b7c11\n\
         status: test\ndate: 2099-01-01\nauthor: Test\nlogsource:\n    product: windows\n    \
         service: security\ndetection:\n    selection:\n        EventID: 4662\n        \
         Properties|contains: '1131f6ad-9c07-11d1-f79f-00c04fc2dcd2'\n    condition: selection\n\
         level: high\n",
    )
    .unwrap();
    std::fs::write(
        installed.join("vigie-snapshot.json"),
        r#"{"release":"r2099-01-01","newest_rule":"2099-01-01","url":"http://127.0.0.1/x.zip","installed_at":"2099-01-02T00:00:00Z"}"#,
    )
    .unwrap();
    let sample = root.join("evtx-attack-samples/Credential Access/CA_DCSync_4662.evtx");
    let out = vigie(
        &["hunt", sample.to_str().unwrap(), "-o", "t.jsonl"],
        tmp.path(),
        &data,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("SigmaHQ snapshot: release r2099-01-01, 1 rule selected"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&installed.display().to_string()),
        "{stdout}"
    );
    let got = titles(&tmp.path().join("t.jsonl"));
    assert!(got.iter().any(|t| t == "DCSync From the Installed Release"));
    assert!(!got
        .iter()
        .any(|t| t == "Active Directory Replication from Non Machine Account - DcSync Indicator"));
}
