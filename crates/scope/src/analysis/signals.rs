//! Signals: the detections the scope reasons on (level medium or above),
//! the correlations placed on a host, and Vigie's own built-in behaviours
//! that no rule reported (a cleared log, recovery inhibited, an LSASS
//! dump, ransom notes in many folders).

use std::collections::HashMap;
use std::sync::Arc;

use vigie_detect::{CorrelationMatch, Level, RuleKind, RuleMeta};

use super::order::{lvl_rank, merge_sorted, sort_dets};
use super::Ctx;
use crate::attack::Attack;
use crate::model::{AddressKind, AttemptOutcome, CredentialAttack, CredentialAttackKind, Evidence};
use crate::names::host_key;
use crate::observer::{ev_key, loc_key, Behaviour, BehaviourKind, ClearedRaw, Det, NoteAcc};
use crate::say::enc;

/// Folders with ransom-note-like files that make "notes everywhere".
const NOTE_FOLDERS: usize = 3;

/// The signals, sorted by evidence, with their indexes.
pub(crate) struct Signals {
    pub list: Vec<Det>,
    /// ATT&CK reading of each distinct rule.
    pub attack: Vec<Attack>,
    /// `list[i]`'s rule in `attack`.
    pub rule_of: Vec<usize>,
    /// Signal indexes (ascending, so in time order) by host and by account.
    pub by_host: HashMap<String, Vec<usize>>,
    pub by_acct: HashMap<String, Vec<usize>>,
    /// Kind of each address a signal names.
    pub addr_kind: HashMap<String, AddressKind>,
}

impl Signals {
    pub fn attack_of(&self, i: usize) -> &Attack {
        &self.attack[self.rule_of[i]]
    }

    /// Was the event of `e` reported by a rule signal (then a built-in one
    /// would only duplicate it)? A binary search on the (time, source,
    /// locator) prefix of the evidence order.
    fn is_reported(list: &[Det], e: &Evidence) -> bool {
        let k = (e.time, e.source.as_str(), loc_key(&e.locator));
        let p = list.partition_point(|d| d.event_key() < k);
        list.get(p).is_some_and(|d| d.event_key() == k)
    }
}

/// A rule of Vigie's own, for built-in signals (level high).
pub(crate) fn builtin_rule(
    title: &str,
    tags: &[&str],
    path: &str,
    description: &str,
) -> Arc<RuleMeta> {
    builtin_rule_at(title, tags, path, description, Level::High)
}

fn builtin_rule_at(
    title: &str,
    tags: &[&str],
    path: &str,
    description: &str,
    level: Level,
) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: None,
        name: None,
        title: title.into(),
        kind: RuleKind::Detection,
        level: Some(level),
        status: None,
        description: Some(description.into()),
        author: None,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        references: vec![],
        falsepositives: vec![],
        logsource: Default::default(),
        path: path.into(),
    })
}

/// A signal of Vigie's own on the event of `ev`.
fn builtin_det(ev: &Evidence, host: &str, rule: Arc<RuleMeta>, accounts: Vec<String>) -> Det {
    Det {
        time: ev.time,
        host: Arc::from(host),
        rule,
        accounts: accounts.into(),
        addresses: Arc::from([]),
        source: Arc::from(ev.source.as_str()),
        locator: ev.locator.clone(),
        event_id: ev.event_id,
        named_host: ev.host.is_some(),
        summary: Some(ev.summary.as_str().into()),
        builtin: true,
    }
}

/// The title of the built-in cleared-log signal.
pub(crate) const CLEARED_TITLE: &str = "Event log cleared (Vigie built-in)";

/// Builds the signals from every detection (moved in: only the signals
/// are kept), the behaviours and cleared logs the observer saw, ransom
/// notes, and the correlations of the run.
pub(crate) fn collect(
    dets: Vec<Det>,
    behaviours: &[Behaviour],
    cleared: &[ClearedRaw],
    notes: &[((String, String), NoteAcc)],
    correlations: &[CorrelationMatch],
    ctx: &Ctx,
) -> Signals {
    let mut signals = dets;
    signals.retain(|d| lvl_rank(d.rule.level) >= lvl_rank(Some(Level::Medium)));
    let signals = sort_dets(signals);
    let mut builtin: Vec<Det> = Vec::new();
    for b in behaviours {
        if Signals::is_reported(&signals, &b.evidence) {
            continue;
        }
        let (title, tags) = match b.kind {
            BehaviourKind::InhibitRecovery => (
                "System recovery inhibited (Vigie built-in)",
                ["attack.impact", "attack.t1490"],
            ),
            BehaviourKind::LsassDump => (
                "LSASS memory dump (Vigie built-in)",
                ["attack.credential-access", "attack.t1003.001"],
            ),
        };
        let rule = builtin_rule(
            title,
            &tags,
            &format!("builtin:scope/{}", b.kind.code()),
            b.kind.code(),
        );
        builtin.push(builtin_det(
            &b.evidence,
            &b.host,
            rule,
            b.user.iter().cloned().collect(),
        ));
    }
    // Ransom notes: files with ransom-note names written by one program
    // in several folders of a host.
    let notes_rule = builtin_rule(
        "Ransom notes written in several folders (Vigie built-in)",
        &["attack.impact", "attack.t1486"],
        "builtin:scope/ransom_notes",
        "ransom_notes",
    );
    for ((host, _image), n) in notes {
        if n.dirs.len() < NOTE_FOLDERS {
            continue;
        }
        let Some(ev) = n.agg.evidence.first() else {
            continue;
        };
        if Signals::is_reported(&signals, ev) {
            continue;
        }
        builtin.push(builtin_det(ev, host, notes_rule.clone(), vec![]));
    }
    // Correlations (brute force, bursts...) are signals when their group
    // names the host they happened on.
    for c in correlations {
        if lvl_rank(c.rule.level) < lvl_rank(Some(Level::Medium)) {
            continue;
        }
        let field = |names: &[&str]| {
            c.group
                .iter()
                .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                .map(|(_, v)| v.as_str())
        };
        let Some(host) =
            field(&["Computer", "ComputerName", "Hostname", "host", "devname"]).and_then(host_key)
        else {
            continue;
        };
        let accounts: Vec<String> = c
            .group
            .iter()
            .filter(|(k, _)| k.to_ascii_lowercase().contains("user"))
            .filter_map(|(_, v)| crate::observer::user(Some(v)).map(|u| u.0))
            .collect();
        let addresses: Vec<String> = c
            .group
            .iter()
            .filter_map(|(_, v)| crate::names::address_key(v))
            .filter(|a| !crate::observer::is_local_addr(a))
            .collect();
        let group: Vec<String> = c.group.iter().map(|(k, v)| format!("{k}={v}")).collect();
        builtin.push(Det {
            time: Some(c.first),
            host: Arc::from(host),
            rule: c.rule.clone(),
            accounts: accounts.into(),
            addresses: addresses.into(),
            source: Arc::from(c.rule.path.display().to_string()),
            locator: vigie_event::Locator::None,
            event_id: None,
            named_host: true,
            summary: Some(
                enc(
                    "corr",
                    &[
                        &c.rule.title,
                        &group.join(", "),
                        &c.value.to_string(),
                        &crate::text::time(ctx.lang, ctx.zone, Some(c.first)),
                        &crate::text::time(ctx.lang, ctx.zone, Some(c.last)),
                    ],
                )
                .into(),
            ),
            builtin: true,
        });
    }
    let clear_rule = builtin_rule(
        CLEARED_TITLE,
        &["attack.defense-evasion", "attack.t1070.001"],
        "builtin:scope/cleared-log",
        "Security 1102 / System 104: a log was cleared.",
    );
    for c in cleared {
        // A rule already reported this clearing (e.g. SigmaHQ "Security
        // Eventlog Cleared"): the built-in signal would only duplicate it.
        if Signals::is_reported(&signals, &c.evidence) {
            continue;
        }
        builtin.push(builtin_det(
            &c.evidence,
            &c.host,
            clear_rule.clone(),
            c.account.iter().cloned().collect(),
        ));
    }
    // Rule signals and built-in ones, in order: as a stable sort of both
    // (rule signals first on ties), without sorting the former again.
    let list = merge_sorted(signals, sort_dets(builtin), super::order::det_order);
    index(list, ctx)
}

/// Adds the credential attacks the scope found itself (sprays, brute
/// force, Kerberoasting) as signals: on the host that logged them, naming
/// the accounts that fell and the source address. A spray that found a
/// password is high; one that found none, medium.
pub(crate) fn with_credential_attacks(
    sig: Signals,
    attacks: &[CredentialAttack],
    ctx: &Ctx,
) -> Signals {
    if attacks.is_empty() {
        return sig;
    }
    let mut extra = Vec::new();
    for a in attacks {
        let won: Vec<String> = a
            .targets
            .iter()
            .filter(|t| t.outcome != AttemptOutcome::Failed)
            .map(|t| t.account.clone())
            .collect();
        let (title, tags, path) = match a.kind {
            CredentialAttackKind::PasswordSpray => (
                "Password spray (Vigie built-in)",
                ["attack.credential-access", "attack.t1110.003"],
                "builtin:scope/password_spray",
            ),
            CredentialAttackKind::BruteForce => (
                "Brute force (Vigie built-in)",
                ["attack.credential-access", "attack.t1110.001"],
                "builtin:scope/brute_force",
            ),
            CredentialAttackKind::Kerberoasting => (
                "Kerberoasting (Vigie built-in)",
                ["attack.credential-access", "attack.t1558.003"],
                "builtin:scope/kerberoasting",
            ),
        };
        let level = if won.is_empty() {
            Level::Medium
        } else {
            Level::High
        };
        let rule = builtin_rule_at(title, &tags, path, path, level);
        let Some(ev) = a.evidence.first() else {
            continue;
        };
        let Some(host) = a
            .logged_by
            .first()
            .cloned()
            .or_else(|| ev.host.clone())
            .or_else(|| a.source_host.clone())
        else {
            continue;
        };
        let mut accounts = won;
        if let Some(b) = &a.by_account {
            accounts.push(b.clone());
        }
        let addresses: Vec<String> = crate::names::address_key(&a.source)
            .into_iter()
            .filter(|x| !crate::observer::is_local_addr(x))
            .collect();
        let mut d = builtin_det(ev, &host, rule, accounts);
        d.addresses = addresses.into();
        d.summary = Some(a.description.as_str().into());
        extra.push(d);
    }
    let list = merge_sorted(sig.list, sort_dets(extra), super::order::det_order);
    index(list, ctx)
}

fn index(list: Vec<Det>, ctx: &Ctx) -> Signals {
    // ATT&CK reading of each distinct rule, keyed by the rule's allocation
    // (tens of thousands of signals come from a few hundred rules).
    let mut rule_ix: HashMap<*const RuleMeta, usize> = HashMap::new();
    let mut attack: Vec<Attack> = Vec::new();
    let mut rule_of: Vec<usize> = Vec::with_capacity(list.len());
    for d in &list {
        let i = *rule_ix.entry(Arc::as_ptr(&d.rule)).or_insert_with(|| {
            attack.push(Attack::from_tags(&d.rule.tags));
            attack.len() - 1
        });
        rule_of.push(i);
    }
    let mut by_host: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_acct: HashMap<String, Vec<usize>> = HashMap::new();
    let mut addr_kind: HashMap<String, AddressKind> = HashMap::new();
    for (i, d) in list.iter().enumerate() {
        match by_host.get_mut(&*d.host) {
            Some(v) => v.push(i),
            None => {
                by_host.insert(d.host.to_string(), vec![i]);
            }
        }
        for a in d.accounts.iter() {
            match by_acct.get_mut(a) {
                // A correlation's group may name the same account twice.
                Some(v) if v.last() == Some(&i) => {}
                Some(v) => v.push(i),
                None => {
                    by_acct.insert(a.clone(), vec![i]);
                }
            }
        }
        for a in d.addresses.iter() {
            if !addr_kind.contains_key(a) {
                addr_kind.insert(a.clone(), ctx.plan.classify(a));
            }
        }
    }
    Signals {
        list,
        attack,
        rule_of,
        by_host,
        by_acct,
        addr_kind,
    }
}

/// Sorts raw items by their evidence (the total order of [`ev_key`]).
pub(crate) fn sort_raw<T>(v: &mut [T], ev: impl Fn(&T) -> &Evidence) {
    v.sort_by(|a, b| ev_key(ev(a)).cmp(&ev_key(ev(b))));
}
