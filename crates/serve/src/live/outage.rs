//! What holds the naming of incidents back when it fails, and for whom.
//!
//! Why apart: a failure is said once and tried again after a backoff
//! (not every request paying the connection's timeout); and whose it is
//! decides who waits — the store out of reach holds every commune back,
//! any other failure the commune whose naming failed only.

use std::collections::BTreeMap;

use super::LiveScope;

/// Namings failing, since when: the store of the live ids out of reach,
/// or one tenant's naming.
pub(super) struct Outage {
    since: std::time::Instant,
    /// Namings that failed (or were not tried) since.
    failed: u64,
    /// No naming is tried before this (one is, then).
    next_try: std::time::Instant,
    /// The wait after the next failure.
    backoff: std::time::Duration,
}

impl Outage {
    fn new(now: std::time::Instant) -> Outage {
        let backoff = std::time::Duration::from_secs(1);
        Outage {
            since: now,
            failed: 1,
            next_try: now + backoff,
            backoff: (backoff * 2).min(NAMING_BACKOFF_MAX),
        }
    }

    fn failed_again(&mut self, now: std::time::Instant) {
        self.failed += 1;
        self.next_try = now + self.backoff;
        self.backoff = (self.backoff * 2).min(NAMING_BACKOFF_MAX);
    }
}

/// What holds namings back.
///
/// Why two kinds: a store that cannot be reached (no connection) fails
/// every tenant's naming alike, and each trying would pay the
/// connection's timeout — so one tenant tries after the backoff and the
/// others wait for it. Any other failure may be the tenant's own (its
/// row in `live_incidents` damaged, its advisory lock not granted): it
/// holds back that tenant only, on a backoff of its own — one commune's
/// failure never shuts the others' answers (and alerts) off.
#[derive(Default)]
pub(super) struct Outages {
    /// The store out of reach (its connection refused or timed out).
    store: Option<Outage>,
    /// Tenants whose naming failed otherwise.
    tenants: BTreeMap<String, Outage>,
}

/// Whether `e` says the store of the live ids could not be reached at
/// all (every tenant's naming would fail alike), rather than a failure
/// that may be one tenant's (see [`Outages`]).
fn unreachable(e: &vigie_store::StoreError) -> bool {
    matches!(e, vigie_store::StoreError::Io { source, .. }
        if source.kind() == std::io::ErrorKind::NotConnected)
}

/// The longest wait between two tries of the ids' store out of reach.
pub(super) const NAMING_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(30);

impl LiveScope {
    /// Whether a naming of `tenant` may call the store now: always when
    /// nothing failed; otherwise once the backoff of what failed (the
    /// store's, the tenant's own) has run — that try then holds the
    /// others back for as long as it may take.
    pub(super) fn may_try_naming(&self, tenant: &str) -> bool {
        let mut o = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let waiting = |g: Option<&Outage>| g.is_some_and(|g| now < g.next_try);
        if waiting(o.tenants.get(tenant)) || waiting(o.store.as_ref()) {
            return false;
        }
        // This one tries; the others wait for its outcome (the
        // connection's timeout at most, 10 s).
        let held = now + std::time::Duration::from_secs(15);
        if let Some(g) = o.store.as_mut() {
            g.next_try = held;
        }
        if let Some(g) = o.tenants.get_mut(tenant) {
            g.next_try = held;
        }
        true
    }

    /// `tenant`'s naming failed (`why`: the store's error), or was not
    /// tried (`None`: held back by a backoff). The first failure of an
    /// outage is said with its error; the next ones are counted, and
    /// said when it ends. The store out of reach holds every tenant
    /// back; any other failure, `tenant` only (see [`Outages`]).
    pub(super) fn naming_failed(&self, tenant: &str, why: Option<&vigie_store::StoreError>) {
        self.naming_failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string());
        let mut o = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let Some(why) = why else {
            // Not tried: counted on what held it back.
            if let Some(g) = o.tenants.get_mut(tenant) {
                g.failed += 1;
            } else if let Some(g) = o.store.as_mut() {
                g.failed += 1;
            }
            return;
        };
        let max = NAMING_BACKOFF_MAX.as_secs();
        if unreachable(why) {
            match o.store.as_mut() {
                Some(g) => g.failed_again(now),
                None => {
                    eprintln!(
                        "vigie serve: the live ids' store cannot be reached (first for {tenant}): {why}; no incident of any commune is named, and the scope's routes answer 503, until it can (tried again every {max} s at most)"
                    );
                    o.store = Some(Outage::new(now));
                }
            }
            return;
        }
        // The store answered, but with this tenant's failure: it is no
        // longer out of reach (the other tenants are no longer held back
        // by it) — which is not "working again": said as such, with the
        // failure that goes on.
        if let Some(g) = o.store.take() {
            eprintln!(
                "vigie serve: the live ids' store answers again after {} s out of reach ({} naming(s) failed or not tried meanwhile), but the naming of {tenant} failed: {why}; the other communes are no longer held back",
                g.since.elapsed().as_secs(),
                g.failed
            );
        }
        match o.tenants.get_mut(tenant) {
            Some(g) => g.failed_again(now),
            None => {
                eprintln!(
                    "vigie serve: the live ids of {tenant} could not be read or kept: {why}; its incidents are not named, and its scope's routes answer 503, until they can (tried again every {max} s at most; other communes are named as before)"
                );
                o.tenants.insert(tenant.to_string(), Outage::new(now));
            }
        }
    }

    /// `tenant`'s naming succeeded: its routes answer again, and an
    /// outage of the store, or of the tenant's naming, ends (said).
    pub(super) fn named(&self, tenant: &str, place: String) {
        self.naming_failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
        let mut o = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = o.store.take() {
            eprintln!(
                "vigie serve: the live ids are read and kept again in {place} after {} s ({} naming(s) failed or not tried meanwhile)",
                g.since.elapsed().as_secs(),
                g.failed
            );
        }
        if let Some(g) = o.tenants.remove(tenant) {
            eprintln!(
                "vigie serve: the live ids of {tenant} are read and kept again in {place} after {} s ({} naming(s) failed or not tried meanwhile)",
                g.since.elapsed().as_secs(),
                g.failed
            );
        }
    }
}
