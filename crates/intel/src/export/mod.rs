//! Incidents out: what of a scope can be shared, and in which formats.
//!
//! [`Findings::collect`] decides what leaves the organisation; every
//! format (`stix`, `misp`, `blocklist`, `navigator`) writes the same
//! findings:
//!
//! * **indicators**: the attacker's *public* addresses (the scope's
//!   `external` addresses the attack implicates, the entry point's, the
//!   destinations of data that left), the domains detections point at,
//!   and the digests of the tools the attacker ran from user-writable
//!   places (read from the `Hashes` of the evidence events);
//! * never as indicators: private, loopback and link-local ranges, the
//!   VPN pool and internal ranges of the assets file, the organisation's
//!   own domains and host names (each left-out value is listed in
//!   [`Findings::left_out`] with why);
//! * no personal data unless asked ([`ExportOptions::include_accounts`]):
//!   accounts are named by their role ("compte de service", "compte
//!   administrateur du domaine"…); host names and user paths never leave
//!   (hosts are counted by role; a tool is named by its file name);
//! * each export carries the TLP the user chose (AMBER by default).

pub mod blocklist;
pub mod indicators;
pub mod misp;
pub mod stix;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use vigie_event::{Event, Locator, Timestamp};
use vigie_lang::{glossary, tr, Lang};
use vigie_scope::names::AddressPlan;
use vigie_scope::{AccountKind, AddressKind, Assets, Compromise, Evidence, Scope};

use crate::model::{HashAlgo, Tlp};
use crate::navigator::{Layer, LayerBuilder};
use crate::normalize;

/// What the user chose for an export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub tlp: Tlp,
    /// Name accounts (otherwise their role only).
    pub include_accounts: bool,
    /// The language of descriptions.
    pub lang: Lang,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            tlp: Tlp::Amber,
            include_accounts: false,
            lang: Lang::Fr,
        }
    }
}

/// Why an observable is an indicator of this incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The address the attacker came in from.
    Entry,
    /// An address the attacker used (logons, connections).
    Attacker,
    /// Where data went.
    Exfiltration,
    /// A remote-access or command-and-control destination.
    RemoteAccess,
    /// A destination detections point at.
    Contacted,
    /// A tool the attacker ran.
    Tool,
}

impl Role {
    /// STIX `indicator_types`.
    pub fn indicator_type(self) -> &'static str {
        match self {
            Role::Contacted => "anomalous-activity",
            _ => "malicious-activity",
        }
    }

    /// Words for descriptions.
    pub fn words(self, lang: Lang) -> &'static str {
        match self {
            Role::Entry => lang.pick(
                "adresse d'entrée de l'attaquant",
                "the attacker's entry address",
            ),
            Role::Attacker => lang.pick(
                "adresse utilisée par l'attaquant",
                "address used by the attacker",
            ),
            Role::Exfiltration => lang.pick(
                "destination des données sorties",
                "destination of the data that left",
            ),
            Role::RemoteAccess => lang.pick(
                "destination d'accès à distance ou de commande",
                "remote-access or command-and-control destination",
            ),
            Role::Contacted => lang.pick(
                "destination contactée pendant l'attaque",
                "destination contacted during the attack",
            ),
            Role::Tool => lang.pick("outil de l'attaquant", "attacker's tool"),
        }
    }
}

/// An address or domain to share.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The address (`203.0.113.45`) or domain (lower case).
    pub value: String,
    pub role: Role,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Events behind it.
    pub count: u64,
    /// Hosts of the organisation involved (counted, never named).
    pub hosts: usize,
    /// Rules and reasons, for descriptions.
    pub reasons: Vec<String>,
}

/// A tool the attacker ran, by its file name and digests.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolFile {
    /// The file name (`rclone.exe`), never its path (which names a user).
    pub name: String,
    pub hashes: BTreeMap<HashAlgo, String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub count: u64,
    pub hosts: usize,
    pub rules: Vec<String>,
}

impl ToolFile {
    /// STIX `tool_types`, from what the tool is known for.
    pub fn tool_type(&self) -> &'static str {
        let n = self.name.to_ascii_lowercase();
        if [
            "anydesk",
            "teamviewer",
            "psexec",
            "screenconnect",
            "atera",
            "splashtop",
            "rustdesk",
            "ngrok",
        ]
        .iter()
        .any(|t| n.contains(t))
        {
            "remote-access"
        } else if [
            "adfind",
            "scanner",
            "nmap",
            "sharphound",
            "bloodhound",
            "netscan",
            "nltest",
        ]
        .iter()
        .any(|t| n.contains(t))
        {
            "information-gathering"
        } else if ["mimikatz", "procdump", "lazagne", "rubeus"]
            .iter()
            .any(|t| n.contains(t))
        {
            "credential-exploitation"
        } else {
            "unknown"
        }
    }
}

/// An ATT&CK technique of the incident.
#[derive(Debug, Clone, PartialEq)]
pub struct TechniqueSeen {
    pub id: String,
    pub name: Option<String>,
    /// Tactic slug (`lateral-movement`).
    pub tactic: Option<String>,
    pub count: u64,
    pub rules: Vec<(String, Option<vigie_detect::Level>, u64)>,
}

/// The incident as it is shared.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    /// `INC-1`.
    pub id: String,
    pub name: String,
    pub description: String,
    pub severity: vigie_detect::Level,
    pub first: Timestamp,
    pub last: Timestamp,
    /// Nature keys (`ransomware`, `data_theft`).
    pub nature: Vec<String>,
    /// Tactic slugs in order (`initial-access`…).
    pub tactics: Vec<String>,
}

/// What an export shares, decided once for every format.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    /// The organisation (assets file), else a neutral name.
    pub organisation: String,
    pub incident: Option<IncidentSummary>,
    pub addresses: Vec<Observed>,
    pub domains: Vec<Observed>,
    pub tools: Vec<ToolFile>,
    pub techniques: Vec<TechniqueSeen>,
    /// Accounts involved: their role, or their name when asked.
    pub accounts: Vec<String>,
    /// Values not exported, with why.
    pub left_out: Vec<(String, String)>,
    /// Limits of this export (evidence files not found…).
    pub notes: Vec<String>,
    /// When the findings were established (the end of the observed
    /// period): the time stamped on what is exported, so that the same
    /// scope always gives the same export.
    pub as_of: Timestamp,
}

/// Evidence events by (source, locator): what the exports read beyond the
/// scope (the digests of tools).
pub type EvidenceEvents = HashMap<(String, (u8, u64)), Event>;

/// The key of an evidence event in [`EvidenceEvents`].
pub fn evidence_key(source: &str, l: &Locator) -> (String, (u8, u64)) {
    (source.to_string(), l.key())
}

/// The evidence events the findings need (the processes of the scope),
/// read from their files (each file read once; a file that is not there
/// is named in the returned notes).
pub fn read_evidence(scope: &Scope) -> (EvidenceEvents, Vec<String>) {
    let mut out = EvidenceEvents::new();
    let mut notes = Vec::new();
    for (source, locators) in wanted_evidence(scope) {
        let path = PathBuf::from(&source);
        if !path.is_file() {
            notes.push(format!(
                "evidence file {source} not found: digests of the tools it holds not exported"
            ));
            continue;
        }
        let found: Mutex<Vec<Event>> = Mutex::new(Vec::new());
        let on_batch = |b: vigie_source::Batch| {
            let hits: Vec<Event> = b
                .events
                .into_iter()
                .filter(|e| locators.contains(&evidence_key("", &e.origin.locator).1))
                .collect();
            if !hits.is_empty() {
                found.lock().unwrap_or_else(|e| e.into_inner()).extend(hits);
            }
        };
        let opts = vigie_source::ReadOptions {
            sha256: false,
            ..Default::default()
        };
        vigie_source::read_file(&path, &opts, &on_batch);
        for e in found.into_inner().unwrap_or_else(|e| e.into_inner()) {
            out.insert(evidence_key(&source, &e.origin.locator), e);
        }
    }
    (out, notes)
}

/// The evidence events [`Findings::collect`] reads beyond the scope, by
/// source: the process creations of the tools run from user-writable
/// places (their `Hashes`). Why apart from [`read_evidence`]: a scope of
/// files reads them from the files, `vigie serve`'s live scope from its
/// event log by position; both give the same events to the same
/// [`Findings::collect`], so the batch and live exports share digests.
pub fn wanted_evidence(scope: &Scope) -> BTreeMap<String, HashSet<(u8, u64)>> {
    let mut wanted: BTreeMap<String, HashSet<(u8, u64)>> = BTreeMap::new();
    for p in &scope.processes {
        if is_user_writable(&p.image) {
            let (source, at) = evidence_key(&p.evidence.source, &p.evidence.locator);
            wanted.entry(source).or_default().insert(at);
        }
    }
    wanted
}

/// Whether a program runs from a place users can write to (downloads,
/// temporary folders, `ProgramData`, the root of a drive): where attackers
/// drop their tools, unlike the system's and installed software's folders.
pub fn is_user_writable(image: &str) -> bool {
    let p = image
        .trim()
        .trim_matches('"')
        .replace('/', "\\")
        .to_ascii_lowercase();
    let p = p.strip_prefix("\\\\?\\").unwrap_or(&p).to_string();
    if p.contains("\\windows\\") || p.contains("\\program files") {
        return false;
    }
    [
        "\\users\\",
        "\\programdata\\",
        "\\temp\\",
        "\\perflogs\\",
        "\\$recycle.bin\\",
        "\\intel\\",
    ]
    .iter()
    .any(|d| p.contains(d))
        || p.matches('\\').count() == 1
}

impl Findings {
    /// What of `scope` to share; `events` are the evidence events read
    /// beforehand ([`read_evidence`]).
    pub fn collect(
        scope: &Scope,
        assets: &Assets,
        events: &EvidenceEvents,
        opts: &ExportOptions,
    ) -> Findings {
        let lang = opts.lang;
        let plan = address_plan(assets);
        let mut left_out: Vec<(String, String)> = Vec::new();
        let mut notes = Vec::new();
        let as_of = scope
            .observed
            .map(|p| p.last)
            .or(scope.attack_period.map(|p| p.last))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let attack = scope.attack_period;
        let in_attack = |t: Option<Timestamp>| match (attack, t) {
            (Some(p), Some(t)) => {
                t >= p.first - chrono::Duration::days(1) && t <= p.last + chrono::Duration::days(1)
            }
            _ => true,
        };

        // Addresses.
        let mut addresses: BTreeMap<String, Observed> = BTreeMap::new();
        let entry_addr = scope
            .entry_point
            .as_ref()
            .and_then(|e| e.source_address.clone());
        let mut consider_ip = |raw: &str,
                               role: Role,
                               first,
                               last,
                               count: u64,
                               hosts: usize,
                               reason: String,
                               left_out: &mut Vec<(String, String)>| {
            let Some(ip) = normalize::ip(raw) else { return };
            if let Some(why) = not_shareable_ip(ip, &plan) {
                left_out.push((ip.to_string(), why.to_string()));
                return;
            }
            let o = addresses.entry(ip.to_string()).or_insert_with(|| Observed {
                value: ip.to_string(),
                role,
                first,
                last,
                count: 0,
                hosts: 0,
                reasons: Vec::new(),
            });
            o.role = o.role.min(role);
            o.first = min_t(o.first, first);
            o.last = max_t(o.last, last);
            o.count += count;
            o.hosts = o.hosts.max(hosts);
            if !o.reasons.contains(&reason) {
                o.reasons.push(reason);
            }
        };
        for a in &scope.addresses {
            if !a.implicated {
                continue;
            }
            let role = if entry_addr.as_deref() == Some(a.address.as_str()) {
                Role::Entry
            } else {
                Role::Attacker
            };
            match a.kind {
                AddressKind::External => consider_ip(
                    &a.address,
                    role,
                    a.first,
                    a.last,
                    a.logons.max(1) + a.failed_logons,
                    a.targets.len(),
                    role.words(lang).to_string(),
                    &mut left_out,
                ),
                kind => left_out.push((
                    a.address.clone(),
                    tr!(
                        lang,
                        "adresse {} : jamais exportée comme indicateur",
                        "{} address: never exported as an indicator",
                        glossary::term(lang, kind_key(kind))
                    ),
                )),
            }
        }
        // Names as the scope writes them (normalised below).
        let mut domain_candidates: Vec<Observed> = Vec::new();
        for x in &scope.data_exposure {
            if !x.probable_exfiltration && x.bytes_out.is_none() {
                continue;
            }
            for d in &x.destinations {
                if normalize::ip(d).is_some() {
                    consider_ip(
                        d,
                        Role::Exfiltration,
                        x.first,
                        x.last,
                        1,
                        usize::from(x.host.is_some()),
                        Role::Exfiltration.words(lang).to_string(),
                        &mut left_out,
                    );
                } else {
                    domain_candidates.push(Observed {
                        value: d.clone(),
                        role: Role::Exfiltration,
                        first: x.first,
                        last: x.last,
                        count: 1,
                        hosts: usize::from(x.host.is_some()),
                        reasons: vec![],
                    });
                }
            }
        }
        for d in &scope.domains {
            let role = if d.reasons.iter().any(|r| r == "remote_access") {
                Role::RemoteAccess
            } else if d.reasons.iter().any(|r| r == "file_sharing") {
                Role::Exfiltration
            } else {
                Role::Contacted
            };
            if !in_attack(d.first) {
                left_out.push((
                    d.domain.clone(),
                    lang.pick(
                        "contacté hors de la période de l'attaque",
                        "contacted outside the attack period",
                    )
                    .into(),
                ));
                continue;
            }
            domain_candidates.push(Observed {
                value: d.domain.clone(),
                role,
                first: d.first,
                last: d.last,
                count: d.count,
                hosts: d.hosts.len(),
                reasons: d.reasons.clone(),
            });
        }
        let internal = internal_names(scope, assets);
        let mut domains: BTreeMap<String, Observed> = BTreeMap::new();
        for Observed {
            value: raw,
            role,
            first,
            last,
            count,
            hosts,
            reasons,
        } in domain_candidates
        {
            let Some(d) = normalize::domain(&raw).filter(|d| normalize::looks_like_domain(d))
            else {
                continue;
            };
            if let Some(why) = internal_domain(&d, &internal) {
                left_out.push((d, why.to_string()));
                continue;
            }
            let o = domains.entry(d.clone()).or_insert_with(|| Observed {
                value: d.clone(),
                role,
                first,
                last,
                count: 0,
                hosts: 0,
                reasons: Vec::new(),
            });
            o.role = o.role.min(role);
            o.first = min_t(o.first, first);
            o.last = max_t(o.last, last);
            o.count += count;
            o.hosts = o.hosts.max(hosts);
            for r in reasons {
                let words = glossary::term(lang, &r).to_string();
                if !o.reasons.contains(&words) {
                    o.reasons.push(words);
                }
            }
        }

        // Tools.
        let mut tools: BTreeMap<(String, Option<String>), (ToolFile, BTreeSet<String>)> =
            BTreeMap::new();
        for p in &scope.processes {
            if !is_user_writable(&p.image) {
                continue;
            }
            let Some(name) = normalize::file_name(&p.image) else {
                continue;
            };
            let key = evidence_key(&p.evidence.source, &p.evidence.locator);
            let hashes: BTreeMap<HashAlgo, String> = match events.get(&key) {
                Some(e) => e
                    .get_str("Hashes")
                    .or_else(|| e.get_str("Hash"))
                    .map(|h| {
                        crate::matcher::fields::sysmon_hashes(h)
                            .filter_map(|(a, hex)| normalize::hash_of(a, hex).map(|x| (a, x)))
                            .collect()
                    })
                    .unwrap_or_default(),
                None => BTreeMap::new(),
            };
            if hashes.is_empty() {
                notes.push(tr!(
                    lang,
                    "{} : pas d'empreinte dans les journaux lus, outil nommé sans indicateur",
                    "{}: no digest in the logs read, tool named without an indicator",
                    name
                ));
            }
            let sha = hashes
                .get(&HashAlgo::Sha256)
                .or_else(|| hashes.get(&HashAlgo::Md5))
                .cloned();
            let (t, hosts) = tools.entry((name.clone(), sha)).or_insert_with(|| {
                (
                    ToolFile {
                        name: name.clone(),
                        hashes: hashes.clone(),
                        first: p.time,
                        last: p.time,
                        count: 0,
                        hosts: 0,
                        rules: Vec::new(),
                    },
                    BTreeSet::new(),
                )
            });
            t.first = min_t(t.first, p.time);
            t.last = max_t(t.last, p.time);
            t.count += 1;
            hosts.insert(p.host.clone());
            t.hosts = hosts.len();
            for r in &p.rules {
                if !t.rules.contains(r) {
                    t.rules.push(r.clone());
                }
            }
        }
        notes.sort();
        notes.dedup();

        // Techniques, from the incidents' progression.
        let mut techniques: BTreeMap<String, TechniqueSeen> = BTreeMap::new();
        for inc in &scope.incidents {
            for step in &inc.progression {
                let Some(id) = &step.technique_id else {
                    continue;
                };
                let t = techniques
                    .entry(id.clone())
                    .or_insert_with(|| TechniqueSeen {
                        id: id.clone(),
                        name: step.technique.clone(),
                        tactic: tactic_slug(&step.tactic),
                        count: 0,
                        rules: Vec::new(),
                    });
                t.count += step.count;
                match t.rules.iter_mut().find(|r| r.0 == step.rule_title) {
                    Some(r) => r.2 += step.count,
                    None => t
                        .rules
                        .push((step.rule_title.clone(), step.level, step.count)),
                }
            }
        }

        // Accounts.
        let mut accounts: Vec<String> = scope
            .accounts
            .iter()
            .filter(|a| a.compromised == Compromise::Yes)
            .map(|a| {
                if opts.include_accounts {
                    a.name.clone()
                } else {
                    account_role(lang, a.kind, a.privileged)
                }
            })
            .collect();
        if !opts.include_accounts {
            accounts.sort();
            accounts.dedup();
        }

        let organisation = assets
            .organisation
            .clone()
            .filter(|o| !o.trim().is_empty())
            .unwrap_or_else(|| {
                lang.pick("Organisation (non renseignée)", "Organisation (not named)")
                    .to_string()
            });
        let incident = summary(scope, lang, &accounts, &addresses);
        left_out.sort();
        left_out.dedup();
        Findings {
            organisation,
            incident,
            addresses: addresses.into_values().collect(),
            domains: domains.into_values().collect(),
            tools: tools.into_values().map(|(t, _)| t).collect(),
            techniques: techniques.into_values().collect(),
            accounts,
            left_out,
            notes,
            as_of,
        }
    }

    /// The ATT&CK Navigator layer of the incident.
    pub fn layer(&self, lang: Lang) -> Layer {
        let mut b = LayerBuilder::new();
        for t in &self.techniques {
            for (rule, level, n) in &t.rules {
                b.add(
                    &[format!("attack.{}", t.id.to_ascii_lowercase())],
                    rule,
                    level.unwrap_or(vigie_detect::Level::Informational),
                    *n,
                );
            }
        }
        let name = match &self.incident {
            Some(i) => format!("{} — {}", self.organisation, i.name),
            None => self.organisation.clone(),
        };
        let description = match &self.incident {
            Some(i) => i.description.clone(),
            None => String::new(),
        };
        b.build(&name, &description, lang)
    }

    /// Whether there is anything to share as an indicator.
    pub fn has_indicators(&self) -> bool {
        !self.addresses.is_empty()
            || !self.domains.is_empty()
            || self.tools.iter().any(|t| !t.hashes.is_empty())
    }
}

fn summary(
    scope: &Scope,
    lang: Lang,
    accounts: &[String],
    addresses: &BTreeMap<String, Observed>,
) -> Option<IncidentSummary> {
    let inc = scope.incidents.first()?;
    let nature: Vec<String> = inc
        .nature
        .iter()
        .map(|n| {
            serde_json::to_value(n)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let nature_words: Vec<&str> = nature.iter().map(|k| glossary::term(lang, k)).collect();
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    for h in scope
        .hosts
        .iter()
        .filter(|h| h.compromised == Compromise::Yes)
    {
        let role = h
            .role
            .as_deref()
            .map(|r| glossary::term(lang, r).to_string())
            .unwrap_or_else(|| lang.pick("rôle inconnu", "role unknown").to_string());
        *roles.entry(role).or_default() += 1;
    }
    let hosts: u64 = roles.values().map(|&n| n as u64).sum();
    let mut parts = Vec::new();
    parts.push(tr!(
        lang,
        "{} du {} au {} (UTC).",
        "{} from {} to {} (UTC).",
        capitalise(&nature_words.join(", ")),
        inc.first.format("%Y-%m-%d %H:%M"),
        inc.last.format("%Y-%m-%d %H:%M")
    ));
    if let Some(e) = &scope.entry_point {
        let from = e
            .source_address
            .as_deref()
            .filter(|a| addresses.contains_key(*a))
            .map(|a| tr!(lang, " depuis {}", " from {}", a))
            .unwrap_or_default();
        parts.push(tr!(
            lang,
            "Entrée : {}{}.",
            "Entry: {}{}.",
            glossary::term(lang, &e.method),
            from
        ));
    }
    if hosts > 0 {
        let list: Vec<String> = roles.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
        parts.push(tr!(
            lang,
            "{} {} ({}).",
            "{} {} ({}).",
            lang.count(hosts, "machine", "machines"),
            lang.pick(
                if hosts > 1 {
                    "compromises"
                } else {
                    "compromise"
                },
                "compromised"
            ),
            list.join(", ")
        ));
    }
    if !accounts.is_empty() {
        parts.push(tr!(
            lang,
            "Comptes utilisés : {}.",
            "Accounts used: {}.",
            accounts.join(", ")
        ));
    }
    let left: Vec<&vigie_scope::DataExposure> = scope
        .data_exposure
        .iter()
        .filter(|x| x.probable_exfiltration)
        .collect();
    if !left.is_empty() {
        let bytes: u64 = left.iter().filter_map(|x| x.bytes_out).sum();
        let personal = left.iter().any(|x| x.personal_data);
        let size = if bytes > 0 {
            format!(" (~{:.1} GB)", bytes as f64 / 1e9)
        } else {
            String::new()
        };
        parts.push(if personal {
            tr!(
                lang,
                "Données probablement sorties{}, dont des données personnelles.",
                "Data probably left{}, including personal data.",
                size
            )
        } else {
            tr!(
                lang,
                "Données probablement sorties{}.",
                "Data probably left{}.",
                size
            )
        });
    }
    let tactics: Vec<String> = inc.tactics.iter().filter_map(|t| tactic_slug(t)).collect();
    Some(IncidentSummary {
        id: inc.id.clone(),
        // The two strongest natures name it; the description has them all.
        name: format!(
            "{} — {}",
            inc.id,
            capitalise(
                &nature_words
                    .iter()
                    .take(2)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        ),
        description: parts.join(" "),
        severity: inc.severity,
        first: inc.first,
        last: inc.last,
        nature,
        tactics,
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The ATT&CK tactic slug (`lateral-movement`) of a tactic name or slug.
fn tactic_slug(t: &str) -> Option<String> {
    vigie_scope::attack::TACTICS
        .iter()
        .find(|(id, slug, name)| {
            name.eq_ignore_ascii_case(t)
                || slug.eq_ignore_ascii_case(t)
                || id.eq_ignore_ascii_case(t)
        })
        .map(|(_, slug, _)| slug.to_string())
}

/// An account named by its role.
pub fn account_role(lang: Lang, kind: AccountKind, privileged: bool) -> String {
    let key = match (kind, privileged) {
        (AccountKind::Admin, true) => "account_role_domain_admin",
        (AccountKind::Admin, false) => "account_role_admin",
        (AccountKind::Service, _) => "account_role_service",
        (AccountKind::Provider, _) => "account_role_provider",
        (AccountKind::User, _) => "account_role_user",
        (AccountKind::Machine, _) => "account_role_machine",
        (AccountKind::Builtin, _) => "account_role_builtin",
        (AccountKind::Unknown, _) => "account_role_unknown",
    };
    let role = glossary::term(lang, key).to_string();
    if privileged && kind != AccountKind::Admin {
        tr!(lang, "{} (privilégié)", "{} (privileged)", role)
    } else {
        role
    }
}

fn kind_key(k: AddressKind) -> &'static str {
    match k {
        AddressKind::External => "external",
        AddressKind::Vpn => "vpn",
        AddressKind::Internal => "internal",
        AddressKind::Local => "local",
        AddressKind::Unknown => "unknown",
    }
}

/// The address plan of the assets file (VPN pools, internal ranges).
pub fn address_plan(assets: &Assets) -> AddressPlan {
    let mut plan = AddressPlan::default();
    for (list, out) in [
        (&assets.networks.vpn_pools, &mut plan.vpn),
        (&assets.networks.internal, &mut plan.internal),
    ] {
        out.extend(list.iter().filter_map(|c| normalize::ip_net(c)));
    }
    plan
}

/// Why an address must not be shared as an indicator, if it must not.
pub fn not_shareable_ip(ip: IpAddr, plan: &AddressPlan) -> Option<&'static str> {
    if normalize::is_non_public(ip) {
        return Some("private, loopback, link-local or reserved range: never a block indicator");
    }
    match plan.classify(&ip.to_string()) {
        AddressKind::Vpn => Some("in the VPN pool of the assets file"),
        AddressKind::Internal => Some("in an internal range of the assets file"),
        AddressKind::Local => Some("local address"),
        _ => None,
    }
}

/// The organisation's own names: its AD domains, and the domains of the
/// FQDNs its hosts log under.
fn internal_names(scope: &Scope, assets: &Assets) -> Vec<String> {
    let mut names: Vec<String> = assets
        .domains
        .iter()
        .filter_map(|d| normalize::domain(d))
        .filter(|d| d.contains('.'))
        .collect();
    for h in &scope.hosts {
        for f in &h.fqdns {
            if let Some((_, dom)) = f.split_once('.') {
                names.extend(normalize::domain(dom));
            }
            names.extend(normalize::domain(f));
        }
        names.extend(normalize::domain(&h.name));
    }
    names.sort();
    names.dedup();
    names
}

/// Why a domain is the organisation's own, if it is.
fn internal_domain(d: &str, internal: &[String]) -> Option<&'static str> {
    const PRIVATE_SUFFIXES: [&str; 7] = [
        ".local",
        ".lan",
        ".internal",
        ".intranet",
        ".corp",
        ".home.arpa",
        ".localdomain",
    ];
    if PRIVATE_SUFFIXES.iter().any(|s| d.ends_with(s)) {
        return Some("private DNS suffix: the organisation's own name");
    }
    if internal
        .iter()
        .any(|i| d == i || d.ends_with(&format!(".{i}")))
    {
        return Some("a name of the organisation (assets file or its hosts): never an indicator");
    }
    None
}

fn min_t(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_t(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// An evidence pointer as `source:line` / `source#record=N`.
pub fn evidence_place(e: &Evidence) -> String {
    let o = vigie_event::Origin {
        source: e.source.as_str().into(),
        locator: e.locator.clone(),
    };
    o.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_writable_places() {
        assert!(is_user_writable(
            r"C:\Users\presta.maint\Downloads\AdFind.exe"
        ));
        assert!(is_user_writable(r"C:\ProgramData\rclone.exe"));
        assert!(is_user_writable(r"C:\rar.exe"));
        assert!(is_user_writable(
            r"C:\Users\x\AppData\Local\Temp\Advanced IP Scanner 2\advanced_ip_scanner.exe"
        ));
        assert!(!is_user_writable(r"C:\Windows\System32\cmd.exe"));
        assert!(!is_user_writable(r"C:\Windows\PSEXESVC.exe"));
        assert!(!is_user_writable(
            r"C:\Program Files\Microsoft SQL Server\Client SDK\ODBC\170\Tools\Binn\SQLCMD.EXE"
        ));
        assert!(!is_user_writable(r"C:\Windows\Temp\x.exe"));
    }

    #[test]
    fn internal_values_never_shared() {
        let plan = AddressPlan {
            vpn: vec!["10.212.134.0/24".parse().unwrap()],
            internal: vec!["192.0.2.0/24".parse().unwrap()],
        };
        assert!(not_shareable_ip("10.0.0.1".parse().unwrap(), &plan).is_some());
        assert!(not_shareable_ip("192.0.2.7".parse().unwrap(), &plan).is_some());
        assert!(not_shareable_ip("203.0.113.45".parse().unwrap(), &plan).is_none());
        let internal = vec!["ccpab.local".to_string(), "ccpab.fr".to_string()];
        assert!(internal_domain("dc01.ccpab.local", &internal).is_some());
        assert!(internal_domain("mail.ccpab.fr", &internal).is_some());
        assert!(internal_domain("relay.net.anydesk.com", &internal).is_none());
    }

    #[test]
    fn accounts_by_role() {
        assert_eq!(
            account_role(Lang::Fr, AccountKind::Service, false),
            "compte de service"
        );
        assert_eq!(
            account_role(Lang::Fr, AccountKind::Admin, true),
            "compte administrateur du domaine"
        );
        assert_eq!(
            account_role(Lang::En, AccountKind::Provider, true),
            "outside provider's account (privileged)"
        );
    }
}
