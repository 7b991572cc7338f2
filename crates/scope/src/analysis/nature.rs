//! What kind of attack an incident is, with the evidence behind each
//! nature and a confidence that follows from it.
//!
//! The rules of the reasoning, in plain words:
//!
//! * A nature is never named without its **defining evidence**:
//!   ransomware needs encryption (T1486 at high level), ransom notes or
//!   recovery inhibited (T1490, Vigie's own vssadmin/wbadmin/bcdedit
//!   reading); data theft needs staging (an archive of data) or a transfer
//!   (an upload tool, a large outbound volume, a rule on exfiltration);
//!   "logs cleared" needs a Security 1102 or System 104 event; a
//!   command-and-control channel needs a known C2 framework named by a
//!   rule, not a tag; lateral movement a movement between internal hosts
//!   or a rule of that tactic.
//! * The other natures come from the rules' ATT&CK tactics, and one
//!   low-fidelity rule's tag does not make one: it takes a rule of level
//!   high or critical, or two independent pieces.
//! * Pieces of evidence are *independent* when they do not rest on the
//!   same events: two rules firing on one event are one piece.
//! * Confidence: **high** when at least two independent pieces agree, one
//!   of them strong (level high or critical, or a built-in behaviour);
//!   **medium** with one strong piece or two weaker ones; **low** with one
//!   piece of medium level.

use std::collections::{BTreeMap, BTreeSet};

use vigie_lang::{tr, Lang};

use super::links::{strong_method, L};
use super::order::lvl_rank;
use super::signals::Signals;
use crate::model::*;
use crate::observer::{push_top_det, push_top_ref};
use crate::text;

/// Rule titles or tags naming a command-and-control framework.
const C2_TOOLS: &[(&str, &str)] = &[
    ("cobaltstrike", "Cobalt Strike"),
    ("cobalt strike", "Cobalt Strike"),
    ("meterpreter", "Meterpreter"),
    ("metasploit", "Metasploit"),
    ("empire", "PowerShell Empire"),
    ("covenant", "Covenant"),
    ("grunt", "Covenant"),
    ("sliver", "Sliver"),
    ("brute ratel", "Brute Ratel"),
    ("bruteratel", "Brute Ratel"),
    ("havoc", "Havoc"),
    ("mythic", "Mythic"),
    ("poshc2", "PoshC2"),
    ("koadic", "Koadic"),
    ("pupy", "Pupy"),
    ("silenttrinity", "SILENTTRINITY"),
    ("quasar", "Quasar RAT"),
    ("njrat", "njRAT"),
    ("attack.s0154", "Cobalt Strike"),
    ("attack.s0363", "PowerShell Empire"),
];

/// One piece of evidence for a nature.
#[derive(Debug, Clone)]
struct Piece {
    reason: String,
    /// Level rank (built-in behaviours and Vigie's readings count as high).
    level: u8,
    /// Defining for its nature (see the module doc).
    defining: bool,
    /// Which events it rests on: (host, second).
    events: BTreeSet<(String, i64)>,
    evidence: Vec<Evidence>,
    /// Sub-kind, for labels: `cleared`, `tools_disabled`, `staging`,
    /// `transfer`, a C2 tool name…
    tag: Option<String>,
}

#[derive(Default)]
struct Pieces(BTreeMap<NatureKind, BTreeMap<String, Piece>>);

impl Pieces {
    fn add(&mut self, kind: NatureKind, p: Piece) {
        let m = self.0.entry(kind).or_default();
        match m.get_mut(&p.reason) {
            Some(q) => {
                q.level = q.level.max(p.level);
                q.defining |= p.defining;
                if q.events.len() < 64 {
                    q.events.extend(p.events);
                }
                for e in p.evidence {
                    push_top_ref(&mut q.evidence, &e);
                }
                if q.tag.is_none() {
                    q.tag = p.tag;
                }
            }
            None => {
                m.insert(p.reason.clone(), p);
            }
        }
    }
}

fn event_of(host: &str, e: &Evidence) -> (String, i64) {
    (
        host.to_string(),
        e.time.map(|t| t.timestamp()).unwrap_or(i64::MIN),
    )
}

/// What an incident holds, for its natures.
pub(crate) struct Input<'a> {
    pub sig: &'a Signals,
    pub sigs: &'a [usize],
    pub links: &'a [&'a L],
    pub exposure: &'a [&'a DataExposure],
    pub credential_attacks: &'a [&'a CredentialAttack],
    /// Accounts created or made privileged during it by the attacker,
    /// with the evidence.
    pub accounts: &'a [(String, Evidence)],
    /// Remote-access tools installed or contacted on its hosts.
    pub remote_access: &'a [(String, Evidence)],
    pub entry: Option<&'a EntryPoint>,
}

/// The natures of an incident, strongest first.
pub(crate) fn natures(inp: &Input, lang: Lang) -> Vec<Nature> {
    let mut pieces = Pieces::default();
    let sig = inp.sig;
    for &i in inp.sigs {
        let d = &sig.list[i];
        let a = sig.attack_of(i);
        let title = d.rule.title.to_lowercase();
        let builtin_rule = d.rule.path.to_string_lossy().starts_with("builtin:");
        let level = if builtin_rule {
            4
        } else {
            lvl_rank(d.rule.level)
        };
        let ev = d.evidence();
        let events: BTreeSet<(String, i64)> = [event_of(&d.host, &ev)].into();
        let mut evidence = Vec::new();
        push_top_det(&mut evidence, d);
        let mut put = |kind: NatureKind, defining: bool, tag: Option<&str>| {
            pieces.add(
                kind,
                Piece {
                    reason: d.rule.title.clone(),
                    level,
                    defining,
                    events: events.clone(),
                    evidence: evidence.clone(),
                    tag: tag.map(str::to_string),
                },
            );
        };
        let t = |id: &str| a.has_technique(id);
        // Ransomware. T1490 alone is no proof: SigmaHQ also tags reading
        // from a shadow copy with it. The rule must speak of the act that
        // inhibits recovery (deleting, disabling, resizing, tampering).
        let inhibits = [
            "delet",
            "disabl",
            "resiz",
            "shrink",
            "tamper",
            "remov",
            "inhibit",
            "recoveryenabled",
            "bootstatuspolicy",
            "wbadmin",
            "vssadmin",
        ]
        .iter()
        .any(|w| title.contains(w));
        if t("T1490") && (inhibits || builtin_rule) {
            put(NatureKind::Ransomware, true, Some("recovery"));
        } else if t("T1490") {
            put(NatureKind::Ransomware, false, None);
        } else if t("T1486") && level >= 4 {
            put(NatureKind::Ransomware, true, Some("encryption"));
        } else if title.contains("ransom") && level >= 4 {
            put(NatureKind::Ransomware, true, Some("notes"));
        } else if t("T1486") || t("T1485") || t("T1489") || t("T1491") {
            put(NatureKind::Ransomware, false, None);
        }
        // Data theft: a transfer or staging. An exfiltration tag is no
        // transfer by itself (SigmaHQ tags a command-output redirection
        // to ADMIN$ with it): the rule must be about a transfer tool or
        // an archive.
        let transfer_words = [
            "rclone",
            "mega",
            "upload",
            "exfil",
            "ftp",
            "scp",
            "winscp",
            "dropbox",
            "transfer",
            "cloud",
            "file sharing",
            "filesharing",
            "restic",
            "anonfiles",
            "sendspace",
            "curl",
        ];
        let archive_words = ["archive", "rar", "7z", "7-zip", "zip", "compress"];
        let exfil_tag =
            a.has_tactic("TA0010") || t("T1567") || t("T1048") || t("T1041") || t("T1537");
        if exfil_tag && transfer_words.iter().any(|w| title.contains(w)) {
            put(NatureKind::DataTheft, true, Some("transfer"));
        } else if t("T1560") && archive_words.iter().any(|w| title.contains(w)) {
            put(NatureKind::DataTheft, true, Some("staging"));
        } else if exfil_tag || t("T1560") {
            put(NatureKind::DataTheft, false, None);
        }
        if a.has_tactic("TA0006") {
            put(NatureKind::CredentialTheft, true, None);
        }
        if t("T1219") {
            put(NatureKind::RemoteAccessPersistence, true, None);
        }
        if a.has_tactic("TA0008") {
            put(NatureKind::LateralMovement, true, None);
        }
        if t("T1136") || t("T1098") {
            put(NatureKind::AccountManipulation, true, None);
        }
        // "Logs cleared" only on a clearing event (Security 1102, System
        // 104), never from a tag.
        let evasion = a.has_tactic("TA0005") || a.has_tactic("TA0112") || t("T1070") || t("T1685");
        let cleared = matches!(d.event_id, Some(1102) | Some(104)) && evasion;
        if cleared || d.rule.title == super::signals::CLEARED_TITLE {
            put(NatureKind::DefenceEvasion, true, Some("cleared"));
        } else if t("T1562.002") {
            put(NatureKind::DefenceEvasion, true, Some("logging_disabled"));
        } else if t("T1562") {
            put(NatureKind::DefenceEvasion, true, Some("tools_disabled"));
        } else if evasion {
            put(NatureKind::DefenceEvasion, true, None);
        }
        if a.has_tactic("TA0007") {
            put(NatureKind::Discovery, true, None);
        }
        if a.has_tactic("TA0011") && !t("T1219") {
            // A tag alone is no C2 channel: a known framework must be named.
            let hay = format!("{title} {}", d.rule.tags.join(" ").to_lowercase());
            match C2_TOOLS.iter().find(|(k, _)| hay.contains(k)) {
                Some((_, tool)) => put(NatureKind::CommandAndControl, true, Some(tool)),
                None => put(NatureKind::CommandAndControl, false, None),
            }
        } else {
            let hay = format!("{title} {}", d.rule.tags.join(" ").to_lowercase());
            if let Some((_, tool)) = C2_TOOLS.iter().find(|(k, _)| hay.contains(k)) {
                put(NatureKind::CommandAndControl, true, Some(tool));
            }
        }
        if a.has_tactic("TA0003") && !(t("T1136") || t("T1098")) {
            put(NatureKind::Persistence, true, None);
        }
        if a.has_tactic("TA0002") {
            put(NatureKind::Execution, true, None);
        }
        if a.has_tactic("TA0001") {
            put(NatureKind::InitialAccess, true, None);
        }
    }
    // Movements between internal hosts.
    for l in inp.links {
        if strong_method(l.method)
            && l.method != LinkMethod::Vpn
            && l.from_kind == AddressKind::Internal
            && l.from.parse::<std::net::IpAddr>().is_err()
        {
            if let Some(ev) = l.evidence.first() {
                pieces.add(
                    NatureKind::LateralMovement,
                    Piece {
                        reason: format!("{} {} → {}", text::method(lang, l.method), l.from, l.to),
                        level: 4,
                        defining: true,
                        events: [event_of(&l.to, ev)].into(),
                        evidence: vec![ev.clone()],
                        tag: None,
                    },
                );
            }
        }
    }
    // Data staged or sent out.
    for x in inp.exposure {
        let tag = match x.activity {
            ExposureActivity::Archive => "staging",
            ExposureActivity::Upload | ExposureActivity::Transfer => "transfer",
            _ => continue,
        };
        if let Some(ev) = x.evidence.first() {
            pieces.add(
                NatureKind::DataTheft,
                Piece {
                    reason: x.description.clone(),
                    level: 4,
                    defining: true,
                    events: [event_of(x.host.as_deref().unwrap_or(""), ev)].into(),
                    evidence: x.evidence.iter().take(3).cloned().collect(),
                    tag: Some(tag.into()),
                },
            );
        }
    }
    for c in inp.credential_attacks {
        let won = c
            .targets
            .iter()
            .any(|t| t.outcome != AttemptOutcome::Failed);
        if c.evidence.is_empty() {
            continue;
        }
        pieces.add(
            NatureKind::CredentialTheft,
            Piece {
                reason: c.description.clone(),
                level: if won { 4 } else { 3 },
                defining: true,
                events: c
                    .evidence
                    .iter()
                    .map(|e| event_of(e.host.as_deref().unwrap_or(""), e))
                    .collect(),
                evidence: c.evidence.iter().take(3).cloned().collect(),
                tag: None,
            },
        );
    }
    for (why, ev) in inp.accounts {
        pieces.add(
            NatureKind::AccountManipulation,
            Piece {
                reason: why.clone(),
                level: 4,
                defining: true,
                events: [event_of(ev.host.as_deref().unwrap_or(""), ev)].into(),
                evidence: vec![ev.clone()],
                tag: None,
            },
        );
    }
    for (why, ev) in inp.remote_access {
        pieces.add(
            NatureKind::RemoteAccessPersistence,
            Piece {
                reason: why.clone(),
                level: 4,
                defining: true,
                events: [event_of(ev.host.as_deref().unwrap_or(""), ev)].into(),
                evidence: vec![ev.clone()],
                tag: None,
            },
        );
    }
    if let Some(e) = inp.entry {
        let outside = matches!(
            e.source_kind,
            Some(AddressKind::External | AddressKind::Vpn)
        ) || e.method == "vpn";
        if outside && e.confidence >= Confidence::Medium {
            if let Some(ev) = e.evidence.first() {
                pieces.add(
                    NatureKind::InitialAccess,
                    Piece {
                        reason: e.description.clone(),
                        level: if e.confidence == Confidence::High {
                            4
                        } else {
                            3
                        },
                        defining: true,
                        events: [event_of(ev.host.as_deref().unwrap_or(""), ev)].into(),
                        evidence: e.evidence.iter().take(3).cloned().collect(),
                        tag: None,
                    },
                );
            }
        }
    }
    judge(pieces, lang)
}

/// Natures whose defining evidence is specific (named on one piece).
fn specific(kind: NatureKind) -> bool {
    matches!(
        kind,
        NatureKind::Ransomware
            | NatureKind::DataTheft
            | NatureKind::CommandAndControl
            | NatureKind::RemoteAccessPersistence
    )
}

fn judge(pieces: Pieces, lang: Lang) -> Vec<Nature> {
    let mut named: Vec<(NatureKind, Vec<Piece>, u32, u32, Confidence)> = Vec::new();
    for (kind, by_reason) in pieces.0 {
        let mut ps: Vec<Piece> = by_reason.into_values().collect();
        if !ps.iter().any(|p| p.defining) {
            continue;
        }
        // Strongest first, defining before supporting.
        ps.sort_by(|a, b| (b.level, b.defining, &a.reason).cmp(&(a.level, a.defining, &b.reason)));
        let mut covered: BTreeSet<(String, i64)> = BTreeSet::new();
        let (mut indep, mut strong) = (0u32, 0u32);
        for p in &ps {
            if p.events.iter().any(|e| !covered.contains(e)) {
                indep += 1;
                if p.level >= 4 {
                    strong += 1;
                }
            }
            covered.extend(p.events.iter().cloned());
        }
        let cleared = ps.iter().any(|p| p.tag.as_deref() == Some("cleared"));
        let specific = specific(kind) || (kind == NatureKind::DefenceEvasion && cleared);
        // One low-fidelity rule's tag does not make a nature.
        if !specific && strong == 0 && indep < 2 {
            continue;
        }
        let confidence = if indep >= 2 && strong >= 1 {
            Confidence::High
        } else if strong >= 1 || indep >= 2 {
            Confidence::Medium
        } else {
            Confidence::Low
        };
        named.push((kind, ps, indep, strong, confidence));
    }
    let has = |k: NatureKind| named.iter().any(|n| n.0 == k);
    let human = has(NatureKind::LateralMovement)
        || has(NatureKind::Discovery)
        || has(NatureKind::CredentialTheft);
    let double = has(NatureKind::DataTheft);
    let mut out: Vec<Nature> = named
        .iter()
        .map(|(kind, ps, indep, strong, confidence)| {
            let tags: BTreeSet<&str> = ps.iter().filter_map(|p| p.tag.as_deref()).collect();
            let label = label(lang, *kind, &tags, human, double);
            let mut evidence = Vec::new();
            for p in ps {
                for e in &p.evidence {
                    push_top_ref(&mut evidence, e);
                }
            }
            Nature {
                kind: *kind,
                label,
                confidence: *confidence,
                reasons: ps.iter().map(|p| p.reason.clone()).collect(),
                evidence,
                independent_evidence: *indep,
                confidence_reason: confidence_reason(lang, *indep, *strong),
            }
        })
        .collect();
    // Established natures (medium or high) first, most serious kind
    // first; then the low-confidence ones.
    out.sort_by(|a, b| {
        let est = |n: &Nature| n.confidence >= Confidence::Medium;
        est(b)
            .cmp(&est(a))
            .then(a.kind.cmp(&b.kind))
            .then(b.confidence.cmp(&a.confidence))
    });
    out
}

fn confidence_reason(lang: Lang, indep: u32, strong: u32) -> String {
    let pieces = text::count(
        lang,
        indep as usize,
        ("preuve indépendante", "preuves indépendantes"),
        (
            "independent piece of evidence",
            "independent pieces of evidence",
        ),
    );
    match strong {
        0 => tr!(
            lang,
            "{pieces}, aucune de niveau élevé",
            "{pieces}, none of high level"
        ),
        s => tr!(
            lang,
            "{pieces}, dont {s} de niveau élevé ou critique",
            "{pieces}, {s} of high or critical level"
        ),
    }
}

fn label(lang: Lang, kind: NatureKind, tags: &BTreeSet<&str>, human: bool, double: bool) -> String {
    match kind {
        NatureKind::Ransomware if !tags.contains("encryption") && !tags.contains("notes") => lang
            .pick(
                "préparation de rançongiciel (restauration du système empêchée ; ni chiffrement ni demande de rançon vus)",
                "ransomware preparation (system recovery inhibited; no encryption or ransom note seen)",
            )
            .into(),
        NatureKind::Ransomware => match (human, double, lang) {
            (true, true, Lang::Fr) => {
                "rançongiciel opéré par un humain, avec vol de données (double extorsion)".into()
            }
            (true, true, Lang::En) => {
                "human-operated ransomware with data theft (double extortion)".into()
            }
            (false, true, Lang::Fr) => "rançongiciel avec vol de données (double extorsion)".into(),
            (false, true, Lang::En) => "ransomware with data theft (double extortion)".into(),
            (true, false, Lang::Fr) => "rançongiciel opéré par un humain".into(),
            (true, false, Lang::En) => "human-operated ransomware".into(),
            (false, false, _) => vigie_lang::glossary::term(lang, "ransomware").into(),
        },
        NatureKind::DataTheft => {
            if tags.contains("transfer") {
                lang.pick("vol de données", "data theft").into()
            } else {
                lang.pick(
                    "données préparées pour un vol (archivées ; aucun envoi vu)",
                    "data staged for theft (archived; no transfer seen)",
                )
                .into()
            }
        }
        NatureKind::DefenceEvasion => {
            let mut what: Vec<String> = Vec::new();
            if tags.contains("cleared") {
                what.push(lang.pick("journaux effacés", "logs cleared").into());
            }
            if tags.contains("logging_disabled") {
                what.push(
                    lang.pick("journalisation désactivée", "event logging disabled")
                        .into(),
                );
            }
            if tags.contains("tools_disabled") {
                what.push(
                    lang.pick("outils de sécurité désactivés", "security tools disabled")
                        .into(),
                );
            }
            let base = vigie_lang::glossary::term(lang, "defence_evasion");
            if what.is_empty() {
                base.into()
            } else {
                format!("{base} ({})", what.join(", "))
            }
        }
        NatureKind::CommandAndControl => {
            let tools: Vec<String> = tags
                .iter()
                .filter(|t| t.chars().next().is_some_and(char::is_uppercase))
                .map(|t| t.to_string())
                .collect();
            let base = lang.pick(
                "canal de commande et contrôle",
                "command-and-control channel",
            );
            if tools.is_empty() {
                base.into()
            } else {
                format!("{base} ({})", tools.join(", "))
            }
        }
        NatureKind::CredentialTheft => lang.pick("vol d'identifiants", "credential theft").into(),
        NatureKind::RemoteAccessPersistence => lang
            .pick(
                "persistance par un outil d'accès à distance",
                "remote-access tool persistence",
            )
            .into(),
        NatureKind::LateralMovement => vigie_lang::glossary::term(lang, "lateral_movement").into(),
        NatureKind::AccountManipulation => lang
            .pick(
                "création ou modification de comptes",
                "account creation or manipulation",
            )
            .into(),
        NatureKind::Discovery => lang
            .pick(
                "reconnaissance du réseau et de l'annuaire",
                "network and directory reconnaissance",
            )
            .into(),
        NatureKind::Persistence => vigie_lang::glossary::term(lang, "persistence").into(),
        NatureKind::Execution => lang
            .pick("exécution suspecte", "suspicious execution")
            .into(),
        NatureKind::InitialAccess => vigie_lang::glossary::term(lang, "initial_access").into(),
    }
}
