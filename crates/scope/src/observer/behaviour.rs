//! Names and command lines that are malicious whatever the rules say
//! (shadow copies deleted, LSASS dumped, PsExec), and message parsing.
use super::*;

pub(crate) fn is_local_addr(a: &str) -> bool {
    a.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback() || ip.is_unspecified())
        .unwrap_or(false)
}

/// Behaviours that are malicious whatever the rule set says: the scope
/// must name a ransomware or a credential dump even when no rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BehaviourKind {
    /// Shadow copies, backup catalog or recovery deleted/disabled.
    InhibitRecovery,
    /// LSASS memory dumped.
    LsassDump,
}

impl BehaviourKind {
    /// Code of the behaviour in coded summaries ([`crate::say`]).
    pub fn code(self) -> &'static str {
        match self {
            BehaviourKind::InhibitRecovery => "inhibit_recovery",
            BehaviourKind::LsassDump => "lsass_dump",
        }
    }
}

/// The value of `label` in a rendered Windows message
/// ("Account Name:\twardog" → "wardog").
pub(crate) fn message_field<'a>(message: &'a str, label: &str) -> Option<&'a str> {
    let at = message.find(label)? + label.len();
    let v = message[at..].lines().next()?.trim();
    (!v.is_empty() && v != "-").then_some(v)
}

/// Names ransomware gives its notes: `README.txt`, `HOW_TO_DECRYPT.html`,
/// `restore-my-files.txt`, `LISEZ-MOI.txt`… (a text or HTML file whose
/// name speaks of decrypting, restoring or a ransom). A single such file
/// is ordinary; the analysis needs them in several folders.
pub(crate) fn ransom_note_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "txt" | "html" | "htm" | "hta" | "rtf") {
        return false;
    }
    let words = [
        "decrypt",
        "ransom",
        "restore",
        "recover",
        "how_to",
        "how-to",
        "howto",
        "readme",
        "read_me",
        "read-me",
        "lisez",
        "dechiffr",
        "déchiffr",
        "rancon",
        "rançon",
        "unlock",
        "your_files",
        "your-files",
        "vos_fichiers",
        "vos-fichiers",
    ];
    words.iter().any(|w| stem.contains(w))
}

/// The host process of a remote session, started for the remote account:
/// WinRM's `wsmprovhost.exe`, and DCOM's Office applications and MMC
/// started with `-Embedding` (MMC20.Application, Excel.Application…).
pub(crate) fn session_host(base: &str, cmd: &str) -> Option<LinkMethod> {
    match base {
        "wsmprovhost.exe" => Some(LinkMethod::Winrm),
        "mmc.exe" | "excel.exe" | "winword.exe" | "powerpnt.exe" | "outlook.exe"
        | "msaccess.exe" | "visio.exe" | "mspub.exe"
            if cmd.to_ascii_lowercase().contains("-embedding") =>
        {
            Some(LinkMethod::Dcom)
        }
        _ => None,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub host: String,
    /// Its time is the evidence's.
    pub kind: BehaviourKind,
    pub user: Option<String>,
    pub evidence: Evidence,
}

/// Recognises a behaviour from a process's image name and command line.
/// The image name filters first, so most processes cost one comparison.
pub(crate) fn behaviour(base: &str, cmd: &str) -> Option<BehaviourKind> {
    let interesting = matches!(
        base,
        "vssadmin.exe"
            | "wbadmin.exe"
            | "bcdedit.exe"
            | "wmic.exe"
            | "rundll32.exe"
            | "powershell.exe"
            | "pwsh.exe"
    ) || base.starts_with("procdump");
    if !interesting {
        return None;
    }
    let c = cmd.to_ascii_lowercase();
    let recovery = (base == "vssadmin.exe" && c.contains("delete") && c.contains("shadows"))
        || (base == "vssadmin.exe" && c.contains("resize") && c.contains("shadowstorage"))
        || (base == "wbadmin.exe"
            && c.contains("delete")
            && (c.contains("catalog") || c.contains("backup") || c.contains("systemstatebackup")))
        || (base == "bcdedit.exe"
            && (c.contains("recoveryenabled no") || c.contains("ignoreallfailures")))
        || (base == "wmic.exe" && c.contains("shadowcopy") && c.contains("delete"))
        || ((base == "powershell.exe" || base == "pwsh.exe")
            && c.contains("win32_shadowcopy")
            && (c.contains("delete") || c.contains("remove-")));
    if recovery {
        return Some(BehaviourKind::InhibitRecovery);
    }
    let lsass = (base == "rundll32.exe" && c.contains("comsvcs") && c.contains("minidump"))
        || (base.starts_with("procdump") && c.contains("lsass"));
    lsass.then_some(BehaviourKind::LsassDump)
}

/// Names PsExec and its clones give their service binary or pipes.
pub(crate) fn is_psexec_name(b: &str) -> bool {
    let b = b.to_ascii_lowercase();
    [
        "psexesvc",
        "remcomsvc",
        "remcom_",
        "paexec",
        "csexecsvc",
        "rexesvc",
        "psexec",
    ]
    .iter()
    .any(|p| b.contains(p))
}

/// PsExec-style redirection pipes, renamed or not:
/// `<service>-<HOST>-<pid>-stdin|stdout|stderr`.
pub(crate) fn is_psexec_pipe(b: &str) -> bool {
    let parts: Vec<&str> = b.split('-').collect();
    parts.len() >= 4
        && matches!(*parts.last().unwrap_or(&""), "stdin" | "stdout" | "stderr")
        && parts[parts.len() - 2].chars().all(|c| c.is_ascii_digit())
}

/// The command of a scheduled task's XML (`<Command>` + `<Arguments>`).
pub(super) fn task_command(xml: &str) -> Option<String> {
    let grab = |tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find(&close)? + start;
        Some(xml[start..end].trim().to_string())
    };
    let cmd = grab("Command")?;
    let full = match grab("Arguments") {
        Some(a) if !a.is_empty() => format!("{cmd} {a}"),
        _ => cmd,
    };
    Some(
        full.replace("&gt;", ">")
            .replace("&lt;", "<")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}
