//! Plain-words answers for the crisis cell, built from the scope's own
//! facts (nothing here is inferred that the structured scope does not hold).

use crate::model::*;

fn t(ts: Option<vigie_event::Timestamp>) -> String {
    ts.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "an unknown time".into())
}

fn list(v: &[String], max: usize) -> String {
    if v.len() <= max {
        v.join(", ")
    } else {
        format!("{} and {} more", v[..max].join(", "), v.len() - max)
    }
}

pub(crate) fn answer(s: &Scope) -> Answer {
    let nature = match s.nature.first() {
        None => "No malicious activity was found in the logs read.".to_string(),
        Some(n) => {
            let others: Vec<String> = s
                .nature
                .iter()
                .skip(1)
                .take(4)
                .map(|n| n.label.clone())
                .collect();
            if others.is_empty() {
                format!(
                    "This looks like {} ({:?} confidence).",
                    n.label, n.confidence
                )
                .replace("High", "high")
                .replace("Medium", "medium")
                .replace("Low", "low")
            } else {
                format!(
                    "This looks like {} ({} confidence), with {}.",
                    n.label,
                    format!("{:?}", n.confidence).to_lowercase(),
                    others.join(", ")
                )
            }
        }
    };
    let entry = match &s.entry_point {
        None => "The entry point is not in the logs.".to_string(),
        Some(e) => format!(
            "Entry: {} ({} confidence).",
            e.description,
            format!("{:?}", e.confidence).to_lowercase()
        ),
    };
    let hosts_yes: Vec<String> = s
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
        .map(|h| h.name.clone())
        .collect();
    let hosts_sus: Vec<String> = s
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Suspected)
        .map(|h| h.name.clone())
        .collect();
    let accts: Vec<String> = s
        .accounts
        .iter()
        .filter(|a| a.compromised == Compromise::Yes)
        .map(|a| a.name.clone())
        .collect();
    let accts_check: Vec<String> = s
        .accounts
        .iter()
        .filter(|a| a.compromised == Compromise::Suspected)
        .map(|a| a.name.clone())
        .collect();
    let extent = if hosts_yes.is_empty() && hosts_sus.is_empty() {
        "No host is implicated.".to_string()
    } else {
        let mut x = format!(
            "Compromised hosts: {}",
            if hosts_yes.is_empty() {
                "none confirmed".into()
            } else {
                list(&hosts_yes, 12)
            }
        );
        if !hosts_sus.is_empty() {
            x.push_str(&format!("; suspected: {}", list(&hosts_sus, 8)));
        }
        if !accts.is_empty() {
            x.push_str(&format!("; accounts: {}", list(&accts, 10)));
        }
        if !accts_check.is_empty() {
            x.push_str(&format!("; accounts to check: {}", list(&accts_check, 6)));
        }
        x.push('.');
        x
    };
    let isolated_systems = if s.zones.is_empty() {
        "No critical or isolated zone is described (no assets file or none marked).".to_string()
    } else {
        s.zones
            .iter()
            .map(|z| format!("{}: {}", z.zone, z.reason))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let exf: Vec<&DataExposure> = s
        .data_exposure
        .iter()
        .filter(|d| d.probable_exfiltration)
        .collect();
    let data_exposure = if exf.is_empty() {
        if s.data_exposure.is_empty() {
            "No archive, upload or large transfer of data was seen.".to_string()
        } else {
            format!(
                "Data was handled ({}), with no sign that it left.",
                s.data_exposure[0].description
            )
        }
    } else {
        let mut stores: Vec<String> = exf.iter().filter_map(|d| d.store.clone()).collect();
        stores.sort();
        stores.dedup();
        let personal = exf.iter().any(|d| d.personal_data);
        let bytes: u64 = exf.iter().filter_map(|d| d.bytes_out).sum();
        format!(
            "Data probably left: {}{}{}.",
            if stores.is_empty() {
                "data from ".to_string()
                    + &list(
                        &exf.iter()
                            .filter_map(|d| d.host.clone())
                            .collect::<Vec<_>>(),
                        5,
                    )
            } else {
                list(&stores, 6)
            },
            if bytes > 0 {
                format!(" (~{:.1} GB out)", bytes as f64 / 1e9)
            } else {
                String::new()
            },
            if personal {
                "; it includes personal data (GDPR: notify the CNIL within 72 h)"
            } else {
                ""
            }
        )
    };
    let isolate_now: Vec<String> = s
        .containment
        .iter()
        .take(6)
        .map(|a| format!("{} {} — {}", action_verb(a.kind), a.target, a.reason))
        .collect();
    let headline = match s.nature.first() {
        None => "No attack found in these logs.".to_string(),
        Some(n) => format!(
            "{}.{} {} host(s) compromised{}. {}",
            capitalise(&n.label),
            s.entry_point
                .as_ref()
                .map(|e| format!(" Started {} ({}).", t(e.time), e.method.replace('_', " ")))
                .unwrap_or_default(),
            hosts_yes.len(),
            if exf.is_empty() {
                String::new()
            } else {
                ", data probably stolen".into()
            },
            s.zones
                .iter()
                .map(|z| format!("Zone {}: {}.", z.zone, zone_word(z.status)))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .trim()
        .to_string(),
    };
    Answer {
        headline,
        nature,
        entry,
        extent,
        isolated_systems,
        data_exposure,
        isolate_now,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub(crate) fn zone_word(z: ZoneReach) -> &'static str {
    match z {
        ZoneReach::Reached => "reached",
        ZoneReach::NotReached => "not reached",
        ZoneReach::Unknown => "unknown",
    }
}

pub(crate) fn action_verb(k: ActionKind) -> &'static str {
    match k {
        ActionKind::RevokeRemoteAccess => "Cut remote (VPN) access of",
        ActionKind::DisableAccount => "Disable account",
        ActionKind::DeleteAccount => "Disable then delete account",
        ActionKind::ResetPassword => "Reset the password of",
        ActionKind::IsolateHost => "Isolate host",
        ActionKind::BlockAddress => "Block address",
        ActionKind::BlockDomain => "Block domain",
        ActionKind::RemoveService => "Remove service",
        ActionKind::ResetKrbtgt => "Reset twice the password of",
    }
}

impl Scope {
    /// A short plain-language paragraph for the terminal summary.
    pub fn summary_text(&self) -> String {
        let a = &self.answer;
        let mut out = String::new();
        out.push_str(&a.headline);
        if !self.nature.is_empty() {
            out.push('\n');
            for line in [&a.entry, &a.extent, &a.data_exposure, &a.isolated_systems] {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            if !a.isolate_now.is_empty() {
                out.push_str("  Act now: ");
                // Verb and target only: the reasons are in the report.
                let acts: Vec<String> = self
                    .containment
                    .iter()
                    .take(5)
                    .map(|c| format!("{} {}", action_verb(c.kind), c.target))
                    .collect();
                out.push_str(&acts.join("; "));
                out.push('\n');
            }
        } else {
            out.push('\n');
            if !self.zones.is_empty() {
                out.push_str("  ");
                out.push_str(&a.isolated_systems);
                out.push('\n');
            }
        }
        let cleared: usize = self.coverage.channels.iter().map(|c| c.cleared.len()).sum();
        let gaps: usize = self
            .coverage
            .channels
            .iter()
            .filter(|c| !c.record_gaps.is_empty())
            .count();
        out.push_str(&format!(
            "  Logs: {} host/channel pair(s), {} with record-id gaps, {} cleared-log event(s).",
            self.coverage.channels.len(),
            gaps,
            cleared
        ));
        out
    }
}
