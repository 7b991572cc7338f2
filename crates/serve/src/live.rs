//! The live scope: the scope's observer fed by the detection worker (its
//! streaming half), its analysis run on demand on a copy (its batch half)
//! — the same two halves `hunt` drives, per tenant.
//!
//! Why on demand and on a copy: the analysis reads everything observed
//! and consumes the observer; the worker must keep observing meanwhile.
//! An answer is computed when asked and kept until new events arrive, so
//! a console polling every few seconds costs one analysis per change.
//!
//! Correlations: the matches of every timed event are kept (slim, as
//! `hunt` keeps them) and the correlator is run over them in time order
//! when the scope is asked for. Events reach the server out of order
//! (several shippers, retries); sorting at the time of the answer gives
//! the correlations `hunt` gives on the same events.
//!
//! After a restart the observer is rebuilt by reading the log again from
//! its start (see [`crate::worker::run`]): the scope covers every stored
//! event, not only those since the start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use vigie_detect::{CorrelationMatch, Engine, Match};
use vigie_event::{Event, Timestamp};
use vigie_scope::{Assets, Lang, Observer, Scope, Zone};

/// What one tenant's events have given so far.
struct Tenant {
    observer: Observer,
    /// Slim matches of timed events, for the correlator.
    for_correlation: Vec<(Timestamp, Vec<Match>)>,
    /// The last answer and the number of events it covers.
    answered: Option<(u64, Answer)>,
    /// Every incident seen, by its live id.
    known: Vec<Known>,
}

/// The scope now, with the live id of each of its incidents (same order).
#[derive(Clone)]
pub struct Answer {
    pub scope: Arc<Scope>,
    pub live_ids: Arc<Vec<String>>,
    /// The correlations the scope was derived with.
    pub correlations: Arc<Vec<CorrelationMatch>>,
}

/// An incident already seen: its live id and the entities it had.
///
/// Why live ids: the scope numbers its incidents by severity (`INC-1` is
/// the main one), so a number changes when another incident grows. A
/// console, an alert and a ticket need a name that stays: an incident
/// keeps its live id as it grows (it shares a host or an account with
/// what it was); when two merge, the merged one keeps the older id.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Known {
    pub id: String,
    pub entities: std::collections::BTreeSet<String>,
}

/// `incidents.json` under the data directory: every tenant's known
/// incidents, so that live ids survive a restart.
fn load_known(path: &std::path::Path) -> BTreeMap<String, Vec<Known>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            eprintln!(
                "vigie serve: {}: {e}; incidents get new live ids",
                path.display()
            );
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

fn save_known(path: &std::path::Path, all: &BTreeMap<String, Vec<Known>>) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(all).map_err(std::io::Error::other)?;
    {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Names each incident of `scope` with a live id: the known incident
/// sharing most of its hosts and accounts (the oldest on a tie), each
/// known id used once; otherwise a new one. Pure: `known` is updated.
pub fn name_incidents(scope: &Scope, known: &mut Vec<Known>, tenant_prefix: &str) -> Vec<String> {
    let entities = |i: &vigie_scope::model::Incident| -> std::collections::BTreeSet<String> {
        i.hosts
            .iter()
            .map(|h| format!("host:{}", h.name.to_ascii_lowercase()))
            .chain(
                i.accounts
                    .iter()
                    .map(|a| format!("account:{}", a.name.to_ascii_lowercase())),
            )
            .collect()
    };
    let mut used = vec![false; known.len()];
    // The largest incidents choose first: a merge keeps the older id for
    // the whole, not for a fragment.
    let mut order: Vec<usize> = (0..scope.incidents.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(scope.incidents[i].detections));
    let mut named = vec![String::new(); scope.incidents.len()];
    for i in order {
        let e = entities(&scope.incidents[i]);
        let best = known
            .iter()
            .enumerate()
            .filter(|(k, _)| !used[*k])
            .map(|(k, kn)| (kn.entities.intersection(&e).count(), k))
            .filter(|(shared, _)| *shared > 0)
            .max_by_key(|(shared, k)| (*shared, std::cmp::Reverse(*k)));
        match best {
            Some((_, k)) => {
                used[k] = true;
                known[k].entities.extend(e);
                named[i] = known[k].id.clone();
            }
            None => {
                let id = format!("{tenant_prefix}{}", known.len() + 1);
                known.push(Known {
                    id: id.clone(),
                    entities: e,
                });
                used.push(true);
                named[i] = id;
            }
        }
    }
    named
}

/// The live scope of every tenant.
pub struct LiveScope {
    assets: Arc<Assets>,
    /// Communes with an assets file of their own (`--assets DIR`); the
    /// others read `assets`.
    tenant_assets: BTreeMap<String, Arc<Assets>>,
    lang: Lang,
    zone: Zone,
    engine: Arc<Option<Engine>>,
    correlating: bool,
    tenants: Mutex<BTreeMap<String, Tenant>>,
    /// Known incidents of tenants not observed yet since the start.
    known: Mutex<BTreeMap<String, Vec<Known>>>,
    known_path: Option<std::path::PathBuf>,
    /// Set once the events stored before this start are observed again
    /// (see [`crate::worker::run`]): until then the scope is partial, and
    /// nothing is alerted from it.
    pub rebuilt: std::sync::atomic::AtomicBool,
}

impl LiveScope {
    /// `data`: where live ids are kept (`incidents.json`); `None` keeps
    /// them in memory only.
    pub fn new(
        assets: Arc<Assets>,
        engine: Arc<Option<Engine>>,
        lang: Lang,
        zone: Zone,
        data: Option<&std::path::Path>,
    ) -> Self {
        let known_path = data.map(|d| d.join("incidents.json"));
        let correlating = engine
            .as_ref()
            .as_ref()
            .is_some_and(|e| e.stats().correlation_rules > 0);
        LiveScope {
            assets,
            tenant_assets: BTreeMap::new(),
            lang,
            zone,
            engine,
            correlating,
            tenants: Mutex::new(BTreeMap::new()),
            known: Mutex::new(known_path.as_deref().map(load_known).unwrap_or_default()),
            known_path,
            rebuilt: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The assets file the scope reads (the crisis cell's board too).
    pub fn assets(&self) -> &Arc<Assets> {
        &self.assets
    }

    /// Gives communes their own assets files (hosts, services, accounts
    /// differ from one to the next); a tenant not named reads the one
    /// given to [`LiveScope::new`].
    pub fn with_tenant_assets(mut self, by_tenant: BTreeMap<String, Arc<Assets>>) -> Self {
        self.tenant_assets = by_tenant;
        self
    }

    /// The assets file of `tenant`.
    pub fn assets_of(&self, tenant: &str) -> &Arc<Assets> {
        self.tenant_assets.get(tenant).unwrap_or(&self.assets)
    }

    /// Observes one judged event of `tenant` (the streaming half).
    pub fn observe(&self, tenant: &str, event: &Event, matches: &[Match]) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.entry(tenant.to_string()).or_insert_with(|| Tenant {
            observer: Observer::new(self.assets_of(tenant).clone()),
            for_correlation: Vec::new(),
            answered: None,
            known: self
                .known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(tenant)
                .unwrap_or_default(),
        });
        t.observer.observe(event, matches);
        if let (true, Some(time), false) = (self.correlating, event.timestamp, matches.is_empty()) {
            t.for_correlation
                .push((time, vigie_hunt::pipeline::for_correlator(matches)));
        }
    }

    /// The tenants that sent events.
    pub fn tenants(&self) -> Vec<String> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.keys().cloned().collect()
    }

    /// Events observed for `tenant`.
    pub fn events(&self, tenant: &str) -> u64 {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant).map_or(0, |t| t.observer.events())
    }

    /// The scope of `tenant` now (the batch half, on a copy), or `None`
    /// when nothing of it was observed. Blocking: call it off the async
    /// threads.
    pub fn scope(&self, tenant: &str) -> Option<Arc<Scope>> {
        self.answer(tenant).map(|a| a.scope)
    }

    /// The last answer computed for `tenant` and the number of events it
    /// covers, without computing one.
    pub fn last_answer(&self, tenant: &str) -> Option<(u64, Answer)> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.get(tenant)?.answered.clone()
    }

    /// [`LiveScope::scope`] with its incidents' live ids.
    pub fn answer(&self, tenant: &str) -> Option<Answer> {
        let (observer, mut items, events) = {
            let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
            let t = tenants.get(tenant)?;
            let events = t.observer.events();
            if let Some((n, a)) = &t.answered {
                if *n == events {
                    return Some(a.clone());
                }
            }
            (t.observer.clone(), t.for_correlation.clone(), events)
        };
        let correlations = Arc::new(self.correlations(&mut items));
        let scope = Arc::new(observer.finish_in(&correlations, self.lang, self.zone));
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let t = tenants.get_mut(tenant)?;
        if let Some((n, a)) = &t.answered {
            // A newer answer was stored meanwhile: it stands.
            if *n >= events {
                return Some(a.clone());
            }
        }
        let before = (
            t.known.len(),
            t.known.iter().map(|k| k.entities.len()).sum::<usize>(),
        );
        let live_ids = Arc::new(name_incidents(&scope, &mut t.known, "L"));
        let after = (
            t.known.len(),
            t.known.iter().map(|k| k.entities.len()).sum::<usize>(),
        );
        let answer = Answer {
            scope,
            live_ids,
            correlations,
        };
        t.answered = Some((events, answer.clone()));
        if before != after {
            if let Some(path) = &self.known_path {
                let mut all = self.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
                for (name, tenant) in tenants.iter() {
                    all.insert(name.clone(), tenant.known.clone());
                }
                if let Err(e) = save_known(path, &all) {
                    eprintln!("vigie serve: {}: {e}", path.display());
                }
            }
        }
        Some(answer)
    }

    /// The correlator run over the kept matches in time order (stable
    /// for equal times: arrival order), as `hunt` runs it.
    fn correlations(&self, items: &mut [(Timestamp, Vec<Match>)]) -> Vec<CorrelationMatch> {
        let Some(engine) = self.engine.as_ref().as_ref() else {
            return Vec::new();
        };
        if !self.correlating {
            return Vec::new();
        }
        items.sort_by_key(|(t, _)| *t);
        let mut correlator = engine.correlator();
        let mut fired = Vec::new();
        for (t, m) in items.iter() {
            fired.extend(correlator.observe(*t, m));
        }
        fired.extend(correlator.finish());
        fired
    }
}
