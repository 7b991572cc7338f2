//! The facts the drafts share, each as statements with their evidence and
//! certainty: who notifies, when it started and was known, what kind of
//! attack, what data, which services, which indicators, which measures.

use serde::{Deserialize, Serialize};
use vigie_event::Timestamp;
use vigie_lang::{glossary, tr, Lang, Precision};
use vigie_scope::{
    ActionKind, AddressKind, Compromise, Confidence, ContactAsset, DataExposure, DataStoreAsset,
    Evidence, Nis2Status,
};

use super::{Block, Ctx, Text};
use crate::deadlines::KnownAtSource;

/// The parts of `vigie hunt`'s run manifest (`FILE.manifest.json`) a
/// complaint needs: what was read, with its hashes, by which Vigie and
/// rules. Unknown fields are ignored, so later manifests still load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunManifest {
    pub manifest_version: u32,
    pub vigie_version: String,
    pub command: Vec<String>,
    pub generated_at: Option<Timestamp>,
    pub rules: ManifestRules,
    pub inputs: Vec<ManifestInput>,
    pub input_errors: Vec<String>,
    pub events: u64,
    pub detections: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

/// The rule set of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManifestRules {
    pub digest: String,
    pub compiled: u64,
}

/// One input file of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManifestInput {
    pub path: String,
    pub format: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub records_read: u64,
    pub records_skipped: u64,
    pub errors: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

impl RunManifest {
    /// Reads a manifest (JSON).
    pub fn load(path: &std::path::Path) -> Result<RunManifest, crate::FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| crate::FileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| crate::FileError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// The snake_case name a value serialises to (the glossary key of enums).
pub fn key<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A time for the drafts: `2026-01-17 08:30 CET`.
pub fn at(ctx: &Ctx, t: Timestamp) -> String {
    ctx.opts.zone.format(t, Precision::Minute)
}

/// "To fill in" in the draft's language.
pub fn to_fill(lang: Lang, what: &str) -> Text {
    Text::fill(tr!(lang, "à compléter : {what}", "to fill in: {what}"))
}

/// A contact in one line, or "to fill in".
pub fn contact(lang: Lang, c: &ContactAsset, what: &str) -> Text {
    let parts: Vec<&str> = [&c.name, &c.role, &c.email, &c.phone, &c.address]
        .into_iter()
        .filter_map(|x| x.as_deref())
        .collect();
    if parts.is_empty() {
        to_fill(lang, what)
    } else {
        Text::plain(parts.join(" — "))
    }
}

/// A value of the assets file, or "to fill in".
pub fn or_fill(lang: Lang, v: Option<&str>, what: &str) -> Text {
    match v {
        Some(v) if !v.trim().is_empty() => Text::plain(v),
        _ => to_fill(lang, what),
    }
}

/// Who notifies: the organisation's identity fields.
pub fn organisation(ctx: &Ctx) -> Vec<Block> {
    let l = ctx.lang();
    let d = &ctx.assets.organisation_details;
    let f = |label: &str, value: Text| Block::Field {
        label: label.to_string(),
        value,
    };
    vec![
        f(
            l.pick("Organisme", "Organisation"),
            or_fill(
                l,
                ctx.assets.organisation.as_deref(),
                l.pick("nom de l'organisme", "name of the organisation"),
            ),
        ),
        f(
            l.pick("Catégorie", "Kind"),
            or_fill(
                l,
                d.kind.as_deref(),
                l.pick(
                    "commune, communauté de communes…",
                    "commune, community of communes…",
                ),
            ),
        ),
        f("SIREN", or_fill(l, d.siren.as_deref(), "SIREN")),
        f(
            l.pick("Adresse", "Address"),
            or_fill(
                l,
                d.address.as_deref(),
                l.pick("adresse du siège", "address"),
            ),
        ),
        f(
            l.pick("Représentant légal", "Legal representative"),
            contact(
                l,
                &d.representative,
                l.pick(
                    "nom et fonction du représentant légal",
                    "legal representative",
                ),
            ),
        ),
    ]
}

/// NIS2 status of the organisation, in words.
pub fn nis2_status(ctx: &Ctx) -> Text {
    let l = ctx.lang();
    match ctx.assets.organisation_details.nis2 {
        Nis2Status::Essential => Text::plain(l.pick("entité essentielle", "essential entity")),
        Nis2Status::Important => Text::plain(l.pick("entité importante", "important entity")),
        Nis2Status::NotCovered => Text::confirm(l.pick(
            "non assujettie selon le fichier des actifs",
            "not covered according to the assets file",
        )),
        Nis2Status::Unknown => to_fill(
            l,
            l.pick(
                "entité essentielle ou importante ? (à vérifier au regard de la loi de transposition)",
                "essential or important entity? (check against the transposition law)",
            ),
        ),
    }
}

/// The NIS2 authority (ANSSI unless the assets file says otherwise).
pub fn nis2_authority(ctx: &Ctx) -> String {
    ctx.assets
        .organisation_details
        .nis2_authority
        .clone()
        .unwrap_or_else(|| "ANSSI".to_string())
}

/// Evidence of the start of the attack: the entry point's, else the first
/// step of the first incident.
fn start_evidence<'a>(ctx: &Ctx<'a>) -> Vec<&'a Evidence> {
    if let Some(e) = &ctx.scope.entry_point {
        if !e.evidence.is_empty() {
            return e.evidence.iter().collect();
        }
    }
    ctx.scope
        .incidents
        .iter()
        .flat_map(|i| i.progression.iter().map(|s| &s.evidence))
        .min_by_key(|e| e.time)
        .into_iter()
        .collect()
}

/// When it started, when it was known, whether it is over.
pub fn chronology(ctx: &mut Ctx) -> Vec<Block> {
    let l = ctx.lang();
    let mut out = Vec::new();
    let start = ctx
        .scope
        .entry_point
        .as_ref()
        .and_then(|e| e.time)
        .or(ctx.scope.attack_period.map(|p| p.first));
    let start_ev: Vec<Evidence> = start_evidence(ctx).into_iter().cloned().collect();
    let notes = ctx.cite(&start_ev, 2);
    let start_confident = ctx
        .scope
        .entry_point
        .as_ref()
        .is_some_and(|e| e.confidence == Confidence::High);
    out.push(Block::Field {
        label: l
            .pick(
                "Date de début de la violation (premier signe d'activité malveillante)",
                "Start of the breach (first sign of malicious activity)",
            )
            .into(),
        value: match start {
            Some(t) => Text::plain(at(ctx, t))
                .cite(notes)
                .confirm_if(!start_confident),
            None => to_fill(l, l.pick("date de début", "start date")),
        },
    });
    let k = ctx.opts.known_at;
    out.push(Block::Field {
        label: l
            .pick(
                "Date de prise de connaissance (découverte)",
                "When the organisation became aware (discovery)",
            )
            .into(),
        value: match k.source {
            KnownAtSource::Explicit => Text::plain(at(ctx, k.time)),
            KnownAtSource::FirstSignal => Text::confirm(tr!(
                l,
                "{} — heure du premier signal détecté dans les journaux, retenue faute d'heure de découverte donnée (--known-at) : les délais courent à partir du moment où la collectivité a effectivement eu connaissance de l'incident",
                "{} — time of the first signal found in the logs, used because no discovery time was given (--known-at): the deadlines run from when the organisation actually became aware",
                at(ctx, k.time)
            )),
        },
    });
    let last = ctx.scope.attack_period.map(|p| p.last);
    let observed_end = ctx.scope.observed.map(|p| p.last);
    out.push(Block::Field {
        label: l.pick("Fin de la violation", "End of the breach").into(),
        value: match (last, observed_end) {
            (Some(last), Some(end)) => Text::confirm(tr!(
                l,
                "dernier signal malveillant le {} ; journaux analysés jusqu'au {} : la violation ne peut pas être déclarée terminée sur la seule foi des journaux",
                "last malicious signal on {}; logs analysed up to {}: the breach cannot be declared over on the logs alone",
                at(ctx, last),
                at(ctx, end)
            )),
            _ => to_fill(l, l.pick("violation terminée ou en cours", "breach over or ongoing")),
        },
    });
    out
}

/// Natures of the attack, strongest first, each with its confidence.
pub fn natures(ctx: &mut Ctx) -> Vec<Text> {
    let l = ctx.lang();
    let scope = ctx.scope;
    let mut out = Vec::new();
    for n in &scope.nature {
        let notes = ctx.cite(&n.evidence, 2);
        let conf = glossary::term(l, &format!("confidence_{}", key(&n.confidence))).to_string();
        out.push(
            Text::plain(format!("{} ({conf})", glossary::term(l, &key(&n.kind))))
                .cite(notes)
                .confirm_if(n.confidence != Confidence::High),
        );
    }
    out
}

/// The entry point in words, with its evidence.
pub fn entry(ctx: &mut Ctx) -> Option<Text> {
    let l = ctx.lang();
    let e = ctx.scope.entry_point.as_ref()?;
    let mut parts = Vec::new();
    if let Some(a) = &e.account {
        parts.push(tr!(l, "compte {a}", "account {a}"));
    }
    if let Some(h) = &e.host {
        parts.push(tr!(l, "sur {h}", "on {h}"));
    }
    if let Some(s) = &e.source_address {
        parts.push(tr!(l, "depuis l'adresse {s}", "from address {s}"));
    }
    let method = match e.method.as_str() {
        "vpn" => l.pick("connexion VPN", "VPN logon"),
        "rdp" => l.pick("bureau à distance (RDP)", "remote desktop (RDP)"),
        "network_logon" => l.pick("ouverture de session réseau", "network logon"),
        _ => l.pick("première détection", "first detection"),
    };
    let when = e.time.map(|t| at(ctx, t)).unwrap_or_default();
    let notes = ctx.cite(&e.evidence, 3);
    Some(
        Text::plain(tr!(
            l,
            "{method}, {} ({when})",
            "{method}, {} ({when})",
            parts.join(", ")
        ))
        .cite(notes)
        .confirm_if(e.confidence != Confidence::High),
    )
}

/// A data store the attack touched, and how.
pub struct Touched<'a> {
    pub store: &'a DataStoreAsset,
    /// Scope records of data leaving or being handled.
    pub exposures: Vec<&'a DataExposure>,
    /// Probably copied out.
    pub probable_exfiltration: bool,
    /// Its host is compromised (availability, integrity).
    pub host_compromised: bool,
    pub host_evidence: Vec<&'a Evidence>,
}

/// The personal-data stores touched: by data exposure records, or by
/// sitting on a compromised host.
pub fn touched_stores<'a>(ctx: &Ctx<'a>) -> Vec<Touched<'a>> {
    let scope = ctx.scope;
    let mut out = Vec::new();
    for d in ctx.assets.data_stores.iter().filter(|d| d.personal_data) {
        let exposures: Vec<&DataExposure> = scope
            .data_exposure
            .iter()
            .filter(|e| e.store.as_deref() == Some(d.name.as_str()))
            .collect();
        let key = vigie_scope::names::host_key(&d.host);
        let host = scope.hosts.iter().find(|h| Some(&h.name) == key.as_ref());
        let host_compromised = host.is_some_and(|h| h.compromised == Compromise::Yes);
        if exposures.is_empty() && !host_compromised {
            continue;
        }
        out.push(Touched {
            store: d,
            probable_exfiltration: exposures.iter().any(|e| e.probable_exfiltration),
            exposures,
            host_compromised,
            host_evidence: host
                .filter(|_| host_compromised)
                .map(|h| h.evidence.iter().take(2).collect())
                .unwrap_or_default(),
        });
    }
    // Stores whose data probably left first.
    out.sort_by_key(|t| (!t.probable_exfiltration, t.exposures.is_empty()));
    out
}

/// A data category in words.
pub fn category(lang: Lang, c: vigie_scope::DataCategory) -> &'static str {
    glossary::term(lang, c.key())
}

/// A number as "environ 3 400" / "about 3,400", or "to fill in".
pub fn approx(lang: Lang, n: Option<u64>, what: &str) -> Text {
    match n {
        Some(n) => Text::plain(tr!(lang, "environ {}", "about {}", lang.number(n))),
        None => to_fill(lang, what),
    }
}

/// Services down or degraded, from the board.
pub fn services_impact(ctx: &Ctx) -> Vec<Text> {
    let l = ctx.lang();
    ctx.board
        .services
        .iter()
        .filter(|e| e.status != crate::Status::Operational)
        .map(|e| {
            let name = e
                .public_name
                .as_ref()
                .map(|n| n.get(l == Lang::Fr).to_string())
                .or_else(|| e.description.clone())
                .unwrap_or_else(|| e.service.clone());
            let who = match (&e.dependants, e.dependants_count) {
                (Some(d), Some(n)) => {
                    tr!(l, " — {d} (environ {})", " — {d} (about {})", l.number(n))
                }
                (Some(d), None) => format!(" — {d}"),
                (None, Some(n)) => tr!(
                    l,
                    " — environ {} personnes",
                    " — about {} people",
                    l.number(n)
                ),
                (None, None) => String::new(),
            };
            Text::plain(format!("{name} : {}{who}", e.status.label(l)))
                .confirm_if(e.overridden.is_none() && e.status == crate::Status::Unknown)
        })
        .collect()
}

/// An action of the plan in words.
pub fn action_label(lang: Lang, kind: ActionKind, target: &str) -> String {
    match kind {
        ActionKind::RevokeRemoteAccess => tr!(
            lang,
            "couper l'accès à distance (VPN) du compte {target}",
            "cut the remote (VPN) access of account {target}"
        ),
        ActionKind::DisableAccount => {
            tr!(
                lang,
                "désactiver le compte {target}",
                "disable account {target}"
            )
        }
        ActionKind::DeleteAccount => tr!(
            lang,
            "supprimer le compte {target} créé par l'attaquant",
            "delete account {target}, created by the attacker"
        ),
        ActionKind::ResetPassword => tr!(
            lang,
            "réinitialiser le mot de passe du compte {target}",
            "reset the password of account {target}"
        ),
        ActionKind::IsolateHost => tr!(
            lang,
            "isoler du réseau {target} (sans l'éteindre)",
            "isolate {target} from the network (without powering it off)"
        ),
        ActionKind::BlockAddress => {
            tr!(lang, "bloquer l'adresse {target}", "block address {target}")
        }
        ActionKind::BlockDomain => {
            tr!(lang, "bloquer le domaine {target}", "block domain {target}")
        }
        ActionKind::RemoveService => tr!(
            lang,
            "supprimer le service malveillant {target}",
            "remove the malicious service {target}"
        ),
        ActionKind::ResetKrbtgt => tr!(
            lang,
            "réinitialiser deux fois le mot de passe du compte krbtgt ({target})",
            "reset the krbtgt password twice ({target})"
        ),
        ActionKind::CollectLogs => tr!(
            lang,
            "collecter les journaux de {target}, atteint mais qui n'en envoie pas",
            "collect the logs of {target}, reached but sending none"
        ),
    }
}

/// The containment plan as measures: proposed from the scope, to confirm
/// as done.
pub fn measures(ctx: &mut Ctx, max: usize) -> Vec<Text> {
    let l = ctx.lang();
    let scope = ctx.scope;
    let mut out = Vec::new();
    for a in scope.containment.iter().take(max) {
        let notes = ctx.cite(&a.evidence, 1);
        out.push(
            Text::confirm(tr!(
                l,
                "{} (mesure du plan de confinement, priorité {} : préciser si réalisée et quand)",
                "{} (containment plan, priority {}: state whether done and when)",
                action_label(l, a.kind, &a.target),
                a.priority
            ))
            .cite(notes),
        );
    }
    if scope.containment.len() > max {
        out.push(Text::plain(tr!(
            l,
            "et {} autre(s) mesure(s) du plan de confinement",
            "and {} more containment measure(s)",
            scope.containment.len() - max
        )));
    }
    out
}

/// Indicators of compromise, as table rows (kind, value, first seen,
/// evidence): external addresses, domains, files, services, tasks,
/// accounts created, tools.
pub fn indicators(ctx: &mut Ctx) -> Block {
    let l = ctx.lang();
    let scope = ctx.scope;
    let mut rows: Vec<Vec<Text>> = Vec::new();
    let mut row =
        |ctx: &mut Ctx, kind: &str, value: String, t: Option<Timestamp>, ev: &[Evidence]| {
            let notes = ctx.cite(ev, 1);
            rows.push(vec![
                Text::plain(kind),
                Text::plain(value).cite(notes),
                Text::plain(t.map(|t| at(ctx, t)).unwrap_or_default()),
            ]);
        };
    for a in scope
        .addresses
        .iter()
        .filter(|a| a.implicated && a.kind == AddressKind::External)
    {
        row(
            ctx,
            l.pick("Adresse IP externe", "External IP address"),
            a.address.clone(),
            a.first,
            &a.evidence,
        );
    }
    for e in &scope.data_exposure {
        for d in &e.destinations {
            if scope.addresses.iter().any(|a| &a.address == d) {
                continue;
            }
            row(
                ctx,
                l.pick("Destination d'exfiltration", "Exfiltration destination"),
                d.clone(),
                e.first,
                &e.evidence,
            );
        }
    }
    for d in &scope.domains {
        row(
            ctx,
            l.pick("Domaine", "Domain"),
            d.domain.clone(),
            d.first,
            &d.evidence,
        );
    }
    for s in scope.services_installed.iter().filter(|s| s.suspicious) {
        let v = match &s.image_path {
            Some(p) => format!("{} ({p}) — {}", s.name, s.host),
            None => format!("{} — {}", s.name, s.host),
        };
        row(
            ctx,
            l.pick("Service installé", "Service installed"),
            v,
            s.time,
            std::slice::from_ref(&s.evidence),
        );
    }
    for t in &scope.scheduled_tasks {
        let v = match &t.command {
            Some(c) => format!("{} ({c}) — {}", t.name, t.host),
            None => format!("{} — {}", t.name, t.host),
        };
        row(
            ctx,
            l.pick("Tâche planifiée", "Scheduled task"),
            v,
            t.time,
            std::slice::from_ref(&t.evidence),
        );
    }
    for f in &scope.files {
        row(
            ctx,
            l.pick("Fichier", "File"),
            format!("{} — {}", f.path, f.host),
            f.time,
            std::slice::from_ref(&f.evidence),
        );
    }
    for a in scope.accounts.iter().filter(|a| a.created_during_attack) {
        row(
            ctx,
            l.pick(
                "Compte créé par l'attaquant",
                "Account created by the attacker",
            ),
            a.name.clone(),
            a.first_seen,
            &a.evidence,
        );
    }
    let mut tools: Vec<(String, Option<Timestamp>, Evidence)> = Vec::new();
    for p in &scope.processes {
        let image = vigie_scope::names::basename(&p.image);
        if !tools.iter().any(|(t, _, _)| t.eq_ignore_ascii_case(&image)) {
            tools.push((image, p.time, p.evidence.clone()));
        }
    }
    for (image, t, ev) in tools {
        row(
            ctx,
            l.pick("Outil exécuté", "Tool run"),
            image,
            t,
            std::slice::from_ref(&ev),
        );
    }
    Block::Table {
        head: vec![
            l.pick("Type", "Kind").into(),
            l.pick("Indicateur", "Indicator").into(),
            l.pick("Première observation", "First seen").into(),
        ],
        rows,
    }
}

/// The attack step by step (ATT&CK), from the incidents' progression.
pub fn timeline(ctx: &mut Ctx, max: usize) -> Block {
    let l = ctx.lang();
    let scope = ctx.scope;
    let mut steps: Vec<&vigie_scope::ProgressionStep> = scope
        .incidents
        .iter()
        .flat_map(|i| i.progression.iter())
        .collect();
    steps.sort_by_key(|s| s.first);
    let mut rows = Vec::new();
    for s in steps.iter().take(max) {
        let notes = ctx.cite(std::slice::from_ref(&s.evidence), 1);
        let technique = match (&s.technique_id, &s.technique) {
            (Some(id), Some(t)) => format!("{id} {t}"),
            (Some(id), None) => id.clone(),
            _ => String::new(),
        };
        rows.push(vec![
            Text::plain(at(ctx, s.first)),
            Text::plain(s.tactic.clone()),
            Text::plain(format!("{} {technique}", s.rule_title).trim().to_string()).cite(notes),
            Text::plain(s.hosts.join(", ")),
            Text::plain(s.accounts.join(", ")),
        ]);
    }
    if steps.len() > max {
        rows.push(vec![
            Text::plain("…"),
            Text::plain(tr!(
                l,
                "{} étape(s) de plus dans le périmètre (scope.json)",
                "{} more step(s) in the scope (scope.json)",
                steps.len() - max
            )),
            Text::default(),
            Text::default(),
            Text::default(),
        ]);
    }
    Block::Table {
        head: vec![
            l.pick("Date", "Time").into(),
            l.pick("Tactique", "Tactic").into(),
            l.pick(
                "Observation (règle, technique)",
                "Observation (rule, technique)",
            )
            .into(),
            l.pick("Machines", "Hosts").into(),
            l.pick("Comptes", "Accounts").into(),
        ],
        rows,
    }
}

/// Compromised hosts and accounts, with the reason and evidence.
pub fn extent(ctx: &mut Ctx) -> Vec<Text> {
    let l = ctx.lang();
    let scope = ctx.scope;
    let mut out = Vec::new();
    for h in scope
        .hosts
        .iter()
        .filter(|h| h.compromised != Compromise::No)
    {
        let notes = ctx.cite(&h.evidence, 1);
        let state = if h.compromised == Compromise::Yes {
            glossary::term(l, "compromised")
        } else {
            glossary::term(l, "suspected")
        };
        out.push(
            Text::plain(tr!(
                l,
                "machine {} ({}) : {state}",
                "host {} ({}): {state}",
                h.name,
                h.role.as_deref().unwrap_or("?")
            ))
            .cite(notes)
            .confirm_if(h.compromised != Compromise::Yes),
        );
    }
    for a in scope
        .accounts
        .iter()
        .filter(|a| a.compromised != Compromise::No)
    {
        let notes = ctx.cite(&a.evidence, 1);
        let state = if a.compromised == Compromise::Yes {
            glossary::term(l, "compromised")
        } else {
            glossary::term(l, "suspected")
        };
        out.push(
            Text::plain(tr!(
                l,
                "compte {}{} : {state}",
                "account {}{}: {state}",
                a.name,
                if a.privileged {
                    l.pick(" (privilégié)", " (privileged)")
                } else {
                    ""
                }
            ))
            .cite(notes)
            .confirm_if(a.compromised != Compromise::Yes),
        );
    }
    out
}

/// Whether the isolated zones were reached, with how we know.
pub fn zones(ctx: &mut Ctx) -> Vec<Text> {
    let l = ctx.lang();
    let scope = ctx.scope;
    let mut out = Vec::new();
    for z in scope.zones.iter().filter(|z| z.isolated) {
        let notes = ctx.cite(&z.evidence, 2);
        let status = glossary::term(l, &key(&z.status)).to_string();
        let mut text = tr!(
            l,
            "zone isolée {} : {status}",
            "isolated zone {}: {status}",
            z.zone
        );
        if !z.coverage.is_empty() {
            text.push_str(&tr!(
                l,
                " (journaux examinés : {})",
                " (logs examined: {})",
                z.coverage.join(" ; ")
            ));
        }
        out.push(
            Text::plain(text)
                .cite(notes)
                .confirm_if(z.status == vigie_scope::ZoneReach::Unknown),
        );
    }
    out
}
