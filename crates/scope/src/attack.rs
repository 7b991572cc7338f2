//! A small embedded ATT&CK (Enterprise) table: the tactics, and the
//! techniques that ransomware intrusions on local authorities commonly show.
//!
//! Why embedded and small: the scope must name tactics and techniques in
//! plain words offline, and rule tags give the ids; an unknown technique
//! keeps its id and gets its tactic from the rule's tactic tags.

/// ATT&CK tactics in kill-chain order: (id, tag slug, name).
pub const TACTICS: &[(&str, &str, &str)] = &[
    ("TA0043", "reconnaissance", "Reconnaissance"),
    ("TA0042", "resource-development", "Resource Development"),
    ("TA0001", "initial-access", "Initial Access"),
    ("TA0002", "execution", "Execution"),
    ("TA0003", "persistence", "Persistence"),
    ("TA0004", "privilege-escalation", "Privilege Escalation"),
    // ATT&CK v19 retired Defense Evasion, splitting it into Stealth
    // (keeping TA0005) and Defense Impairment (TA0112); SigmaHQ uses both
    // new slugs, older rules the old one.
    ("TA0005", "defense-evasion", "Defense Evasion"),
    ("TA0005", "stealth", "Stealth"),
    ("TA0112", "defense-impairment", "Defense Impairment"),
    ("TA0006", "credential-access", "Credential Access"),
    ("TA0007", "discovery", "Discovery"),
    ("TA0008", "lateral-movement", "Lateral Movement"),
    ("TA0009", "collection", "Collection"),
    ("TA0011", "command-and-control", "Command and Control"),
    ("TA0010", "exfiltration", "Exfiltration"),
    ("TA0040", "impact", "Impact"),
];

/// Common techniques: (id, name, primary tactic slug).
pub const TECHNIQUES: &[(&str, &str, &str)] = &[
    ("T1003", "OS Credential Dumping", "credential-access"),
    ("T1003.001", "LSASS Memory", "credential-access"),
    ("T1003.002", "Security Account Manager", "credential-access"),
    ("T1003.003", "NTDS", "credential-access"),
    ("T1003.006", "DCSync", "credential-access"),
    ("T1005", "Data from Local System", "collection"),
    ("T1007", "System Service Discovery", "discovery"),
    ("T1012", "Query Registry", "discovery"),
    (
        "T1016",
        "System Network Configuration Discovery",
        "discovery",
    ),
    ("T1018", "Remote System Discovery", "discovery"),
    ("T1021", "Remote Services", "lateral-movement"),
    ("T1021.001", "Remote Desktop Protocol", "lateral-movement"),
    ("T1021.002", "SMB/Windows Admin Shares", "lateral-movement"),
    (
        "T1021.003",
        "Distributed Component Object Model",
        "lateral-movement",
    ),
    ("T1021.006", "Windows Remote Management", "lateral-movement"),
    ("T1033", "System Owner/User Discovery", "discovery"),
    ("T1036", "Masquerading", "defense-evasion"),
    ("T1039", "Data from Network Shared Drive", "collection"),
    ("T1041", "Exfiltration Over C2 Channel", "exfiltration"),
    ("T1046", "Network Service Discovery", "discovery"),
    ("T1047", "Windows Management Instrumentation", "execution"),
    (
        "T1048",
        "Exfiltration Over Alternative Protocol",
        "exfiltration",
    ),
    ("T1049", "System Network Connections Discovery", "discovery"),
    ("T1053", "Scheduled Task/Job", "execution"),
    ("T1053.005", "Scheduled Task", "execution"),
    ("T1055", "Process Injection", "defense-evasion"),
    ("T1057", "Process Discovery", "discovery"),
    ("T1059", "Command and Scripting Interpreter", "execution"),
    ("T1059.001", "PowerShell", "execution"),
    ("T1059.003", "Windows Command Shell", "execution"),
    ("T1069", "Permission Groups Discovery", "discovery"),
    ("T1069.002", "Domain Groups", "discovery"),
    ("T1070", "Indicator Removal", "defense-evasion"),
    ("T1070.001", "Clear Windows Event Logs", "defense-evasion"),
    ("T1070.004", "File Deletion", "defense-evasion"),
    ("T1071", "Application Layer Protocol", "command-and-control"),
    ("T1071.004", "DNS", "command-and-control"),
    ("T1078", "Valid Accounts", "initial-access"),
    ("T1082", "System Information Discovery", "discovery"),
    ("T1083", "File and Directory Discovery", "discovery"),
    ("T1087", "Account Discovery", "discovery"),
    ("T1087.002", "Domain Account", "discovery"),
    ("T1098", "Account Manipulation", "persistence"),
    ("T1105", "Ingress Tool Transfer", "command-and-control"),
    ("T1110", "Brute Force", "credential-access"),
    ("T1112", "Modify Registry", "defense-evasion"),
    ("T1133", "External Remote Services", "initial-access"),
    ("T1135", "Network Share Discovery", "discovery"),
    ("T1136", "Create Account", "persistence"),
    ("T1136.001", "Local Account", "persistence"),
    ("T1136.002", "Domain Account", "persistence"),
    (
        "T1190",
        "Exploit Public-Facing Application",
        "initial-access",
    ),
    ("T1218", "System Binary Proxy Execution", "defense-evasion"),
    ("T1218.011", "Rundll32", "defense-evasion"),
    ("T1219", "Remote Access Software", "command-and-control"),
    ("T1482", "Domain Trust Discovery", "discovery"),
    (
        "T1484",
        "Domain or Tenant Policy Modification",
        "defense-evasion",
    ),
    ("T1484.001", "Group Policy Modification", "defense-evasion"),
    ("T1485", "Data Destruction", "impact"),
    ("T1486", "Data Encrypted for Impact", "impact"),
    ("T1489", "Service Stop", "impact"),
    ("T1490", "Inhibit System Recovery", "impact"),
    ("T1491", "Defacement", "impact"),
    ("T1543", "Create or Modify System Process", "persistence"),
    ("T1543.003", "Windows Service", "persistence"),
    ("T1546", "Event Triggered Execution", "persistence"),
    ("T1547", "Boot or Logon Autostart Execution", "persistence"),
    (
        "T1547.001",
        "Registry Run Keys / Startup Folder",
        "persistence",
    ),
    (
        "T1550",
        "Use Alternate Authentication Material",
        "lateral-movement",
    ),
    ("T1550.002", "Pass the Hash", "lateral-movement"),
    ("T1552", "Unsecured Credentials", "credential-access"),
    (
        "T1555",
        "Credentials from Password Stores",
        "credential-access",
    ),
    (
        "T1558",
        "Steal or Forge Kerberos Tickets",
        "credential-access",
    ),
    ("T1558.003", "Kerberoasting", "credential-access"),
    ("T1560", "Archive Collected Data", "collection"),
    ("T1560.001", "Archive via Utility", "collection"),
    ("T1562", "Impair Defenses", "defense-evasion"),
    ("T1562.001", "Disable or Modify Tools", "defense-evasion"),
    (
        "T1562.002",
        "Disable Windows Event Logging",
        "defense-evasion",
    ),
    ("T1567", "Exfiltration Over Web Service", "exfiltration"),
    ("T1567.002", "Exfiltration to Cloud Storage", "exfiltration"),
    ("T1569", "System Services", "execution"),
    ("T1569.002", "Service Execution", "execution"),
    ("T1570", "Lateral Tool Transfer", "lateral-movement"),
    ("T1572", "Protocol Tunneling", "command-and-control"),
    ("T1574", "Hijack Execution Flow", "persistence"),
    ("T1003.004", "LSA Secrets", "credential-access"),
];

/// Technique families known only by their tactic (ATT&CK v19 additions
/// whose names this table does not carry).
const FAMILIES: &[(&str, &str)] = &[("T1685", "defense-impairment")];

/// A tactic looked up by tag slug (`lateral-movement` or `lateral_movement`).
pub fn tactic_by_slug(slug: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let norm = slug.replace('_', "-");
    TACTICS.iter().copied().find(|(_, s, _)| *s == norm)
}

/// Kill-chain position of a tactic id (unknown last).
pub fn tactic_order(id: Option<&str>) -> usize {
    id.and_then(|id| TACTICS.iter().position(|(t, _, _)| *t == id))
        .unwrap_or(TACTICS.len())
}

/// A technique by id (`T1021.002`, case-insensitive); falls back to the
/// parent technique for an unknown sub-technique (name only).
pub fn technique(id: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let up = id.to_ascii_uppercase();
    if let Some(t) = TECHNIQUES.iter().copied().find(|(i, _, _)| *i == up) {
        return Some(t);
    }
    let parent = up.split('.').next()?;
    TECHNIQUES.iter().copied().find(|(i, _, _)| *i == parent)
}

/// The ATT&CK content of a rule's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attack {
    /// Tactics (id `TA0008`, name), in tag order, deduplicated.
    pub tactics: Vec<(&'static str, &'static str)>,
    /// Technique ids in upper case (`T1021.002`), in tag order.
    pub techniques: Vec<String>,
}

impl Attack {
    /// Parses `attack.*` tags. Techniques without a tactic tag get the
    /// tactic of the embedded table.
    pub fn from_tags(tags: &[String]) -> Attack {
        let mut a = Attack::default();
        for tag in tags {
            let lower = tag.to_ascii_lowercase();
            let Some(rest) = lower.strip_prefix("attack.") else {
                continue;
            };
            if rest.starts_with('t') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
                let id = rest.to_ascii_uppercase();
                if !a.techniques.contains(&id) {
                    a.techniques.push(id);
                }
            } else if let Some((id, _, name)) = tactic_by_slug(rest) {
                if !a.tactics.contains(&(id, name)) {
                    a.tactics.push((id, name));
                }
            }
        }
        if a.tactics.is_empty() {
            for t in &a.techniques {
                let slug = technique(t).map(|x| x.2).or_else(|| {
                    let parent = t.split('.').next().unwrap_or(t);
                    FAMILIES.iter().find(|(f, _)| *f == parent).map(|(_, s)| *s)
                });
                if let Some((id, _, name)) = slug.and_then(tactic_by_slug) {
                    if !a.tactics.contains(&(id, name)) {
                        a.tactics.push((id, name));
                    }
                }
            }
        }
        a
    }

    pub fn has_tactic(&self, id: &str) -> bool {
        self.tactics.iter().any(|t| t.0 == id)
    }

    /// True if a technique equals `id` or is a sub-technique of it.
    pub fn has_technique(&self, id: &str) -> bool {
        self.techniques
            .iter()
            .any(|t| t == id || (t.starts_with(id) && t.as_bytes().get(id.len()) == Some(&b'.')))
    }

    /// The main (tactic id, tactic name): the latest tactic in kill-chain
    /// order, since a rule tagged both execution and impact is about impact.
    pub fn main_tactic(&self) -> Option<(&'static str, &'static str)> {
        self.tactics
            .iter()
            .copied()
            .max_by_key(|t| tactic_order(Some(t.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_give_tactics_and_techniques() {
        let a = Attack::from_tags(&[
            "attack.lateral-movement".into(),
            "attack.t1021.002".into(),
            "attack.execution".into(),
            "cve.2021-1234".into(),
        ]);
        assert_eq!(
            a.tactics,
            vec![("TA0008", "Lateral Movement"), ("TA0002", "Execution")]
        );
        assert_eq!(a.techniques, vec!["T1021.002"]);
        assert!(a.has_technique("T1021"));
        assert!(!a.has_technique("T102"));
        assert_eq!(a.main_tactic(), Some(("TA0008", "Lateral Movement")));
    }

    #[test]
    fn technique_only_tags_get_a_tactic() {
        let a = Attack::from_tags(&["attack.t1490".into()]);
        assert_eq!(a.tactics, vec![("TA0040", "Impact")]);
        let v19 = Attack::from_tags(&["attack.t1685.005".into()]);
        assert_eq!(v19.tactics, vec![("TA0112", "Defense Impairment")]);
        let st = Attack::from_tags(&["attack.stealth".into()]);
        assert_eq!(st.main_tactic(), Some(("TA0005", "Stealth")));
        assert_eq!(technique("t1003.001").unwrap().1, "LSASS Memory");
        // Unknown sub-technique falls back to its parent.
        assert_eq!(technique("T1003.099").unwrap().0, "T1003");
        assert_eq!(tactic_by_slug("command_and_control").unwrap().0, "TA0011");
    }
}
