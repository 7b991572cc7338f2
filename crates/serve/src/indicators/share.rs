//! What of a tenant's live scope is shared outward: the findings a STIX
//! bundle or TAXII collection carries, and the FortiGate blocklists.
//!
//! Why here: the indicators and these exports read the same live scope
//! and the same evidence read back from the event log.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigie_intel::Tlp;

use crate::{error, ReadTenant, Shared};

/// What of `tenant`'s live scope is shared (as `vigie export` shares a
/// scope file's): TLP `tlp`, accounts by their role, no host name, no
/// internal address; `None` while nothing of the tenant was received.
/// The tools' digests come from their process creations, read back from
/// the event log ([`evidence_from_log`]) where `vigie export` reads them
/// from the evidence files: the same [`vigie_intel::export::Findings`]
/// either way. Blocking (called off the async threads).
pub(crate) fn live_findings(
    s: &Shared,
    tenant: &str,
    tlp: Tlp,
) -> Option<vigie_intel::export::Findings> {
    let scope = s.live.scope(tenant)?;
    let opts = vigie_intel::export::ExportOptions {
        tlp,
        include_accounts: false,
        lang: s.config.hunt.lang,
    };
    let (events, notes) = evidence_from_log(s, tenant, &scope);
    let mut findings =
        vigie_intel::export::Findings::collect(&scope, s.live.assets_of(tenant), &events, &opts);
    findings.notes.extend(notes);
    Some(findings)
}

/// Most evidence events read back for one live export: a scope with more
/// tools than that names the others without digests (said in its notes).
const EVIDENCE_READ: usize = 1_000;

/// The evidence events the live scope's findings need
/// ([`vigie_intel::export::wanted_evidence`]: the tools' process
/// creations), read back from the event log by their position and parsed
/// as the worker parsed them when they arrived (same source name, same
/// reading options, the receipt time as reference). An event the log no
/// longer holds (past retention) leaves its tool without digests, said in
/// the notes. Blocking.
fn evidence_from_log(
    s: &Shared,
    tenant: &str,
    scope: &vigie_scope::Scope,
) -> (vigie_intel::export::EvidenceEvents, Vec<String>) {
    use vigie_event::Locator;
    let mut out = vigie_intel::export::EvidenceEvents::new();
    let mut notes = Vec::new();
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return (out, notes);
    };
    let position_kind = Locator::Position(0).key().0;
    let mut read = 0usize;
    for (source, keys) in vigie_intel::export::wanted_evidence(scope) {
        let mut positions: Vec<u64> = keys
            .into_iter()
            .filter(|(kind, _)| *kind == position_kind)
            .map(|(_, n)| n)
            .collect();
        positions.sort_unstable();
        for n in positions {
            if read >= EVIDENCE_READ {
                notes.push(format!(
                    "more than {EVIDENCE_READ} tool events: the others' digests not read back"
                ));
                return (out, notes);
            }
            read += 1;
            let delivery = match handle.block_on(s.log.read_at(vigie_store::Position(n))) {
                Ok(Some(d)) if d.tenant == tenant => d,
                Ok(_) => {
                    notes.push(format!(
                        "{source} position {n}: no longer in the event log, its tool named without digests"
                    ));
                    continue;
                }
                Err(e) => {
                    notes.push(format!("{source} position {n}: {e}"));
                    continue;
                }
            };
            let opts = vigie_source::ReadOptions {
                reference_time: chrono::DateTime::from_timestamp_micros(delivery.received),
                sha256: false,
                ..s.config.hunt.read.clone()
            };
            let mut text = delivery.event;
            text.push(b'\n');
            let (events, _) = vigie_source::read_bytes(&source, &text, &opts);
            if let Some(mut e) = events.into_iter().next() {
                e.origin.locator = Locator::Position(n);
                out.insert(
                    vigie_intel::export::evidence_key(&source, &e.origin.locator),
                    e,
                );
            }
        }
    }
    (out, notes)
}

/// `GET /api/v1/blocklist/{list}`: the tenant's live incident as a
/// FortiGate external threat feed, one entry per line (`ip.txt`: "IP
/// Address", `domain.txt`: "Domain Name", `hash.txt`: "Malware Hash"),
/// or `blocklist.csv` with each entry's type, TLP, times and why. The
/// firewall polls it with the token as the password of basic auth.
pub(crate) async fn blocklist(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    UrlPath(list): UrlPath<String>,
) -> Response {
    let file = match list.as_str() {
        "ip.txt" => "addresses.txt",
        "domain.txt" => "domains.txt",
        "hash.txt" => "hashes.txt",
        "blocklist.csv" => "blocklist.csv",
        "url.txt" => {
            return error(
                StatusCode::NOT_FOUND,
                "an incident gives addresses, domains and digests to block, not URLs: ip.txt, domain.txt, hash.txt, blocklist.csv",
            )
        }
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "ip.txt, domain.txt, hash.txt or blocklist.csv",
            )
        }
    };
    if let Some(r) = crate::rebuilding(&s) {
        return r;
    }
    let lang = s.config.hunt.lang;
    let (s2, t2) = (s.clone(), tenant.clone());
    let made = tokio::task::spawn_blocking(move || {
        live_findings(&s2, &t2, Tlp::Amber)
            .map(|f| vigie_intel::export::blocklist::files(&f, Tlp::Amber, lang))
    })
    .await
    .ok()
    .flatten();
    let Some(files) = made else {
        // Its incidents could not be named: cannot be answered now, not
        // "nothing received".
        if let Some(r) = crate::http::naming_unavailable(&s, &tenant) {
            return r;
        }
        // Nothing received is not "nothing to block".
        return error(
            StatusCode::NOT_FOUND,
            "no event of this tenant received yet: no incident to derive a blocklist from",
        );
    };
    let Some((_, content)) = files.into_iter().find(|(n, _)| n == file) else {
        return error(StatusCode::NOT_FOUND, &format!("no {list}"));
    };
    let ty = if file.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, ty),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        content,
    )
        .into_response()
}
