//! One name per incident wherever an alert speaks, and merges said.
//!
//! Why: the scope numbers its incidents by severity (`INC-2` today may
//! be `INC-3` tomorrow) while the alerts name them by their live id
//! (`L7`, stable as the incident grows): a headline saying `INC-2` beside
//! a message saying `L7` is two names for one thing at 2 a.m. And when
//! two incidents turn out to be one (the naming marks the retired id
//! `merged-into:Lk`), the retired one must not vanish from the alerts
//! unsaid: whoever was told of it is told where it went.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde_json::json;
use vigie_lang::{glossary, Lang};

use super::{Alerting, Record, Sink};

/// `text` with each of the scope's incident numbers (`INC-3`) replaced
/// by that incident's live id (`L7`), the one name alerts use.
pub fn live_named(
    text: &str,
    incidents: &[vigie_scope::model::Incident],
    live_ids: &[String],
) -> String {
    if !text.contains("INC-") {
        return text.to_string();
    }
    let ids: HashMap<&str, &str> = incidents
        .iter()
        .zip(live_ids)
        .map(|(i, l)| (i.id.as_str(), l.as_str()))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("INC-") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let name = &rest[at..at + 4 + digits];
        // Whole words only (`XINC-1` is not an incident's number).
        let word = !out.chars().last().is_some_and(|c| c.is_alphanumeric());
        match ids.get(name) {
            Some(l) if digits > 0 && word => out.push_str(l),
            _ => out.push_str(name),
        }
        rest = &rest[at + 4 + digits..];
    }
    out.push_str(rest);
    out
}

/// One incident as a whole from its parts (those sharing a live id: see
/// `live::name_sets`), the first speaking for it: the most severe part's
/// severity, the detections of all, its span from the first start to the
/// last end, every host, account, address and nature once (its summary
/// stays the first part's). `None` without any.
///
/// Why: a message of the incident and the merge message naming it must
/// give the same counts; the first part alone said less than the merge.
pub(super) fn whole(
    parts: &[&vigie_scope::model::Incident],
) -> Option<vigie_scope::model::Incident> {
    let (first, rest) = parts.split_first()?;
    let mut inc = (*first).clone();
    for part in rest {
        inc.severity = inc.severity.max(part.severity);
        inc.detections += part.detections;
        inc.first = inc.first.min(part.first);
        inc.last = inc.last.max(part.last);
        for (mine, theirs) in [
            (&mut inc.hosts, &part.hosts),
            (&mut inc.accounts, &part.accounts),
        ] {
            for e in theirs {
                if !mine.iter().any(|k| k.name == e.name) {
                    mine.push(e.clone());
                }
            }
        }
        for a in &part.addresses {
            if !inc.addresses.contains(a) {
                inc.addresses.push(a.clone());
            }
        }
        for n in &part.nature {
            if !inc.nature.contains(n) {
                inc.nature.push(*n);
            }
        }
    }
    Some(inc)
}

/// Tells `sink` once that incident `from`, which it was told of, was
/// merged into `into` (a message of its own, `incident_merged`): an
/// incident never vanishes from the alerts unsaid. `now`: the parts of
/// incident `into` as the scope holds it (its severity — the most
/// severe part's —, detections and hosts are said with the merge;
/// nothing when the scope no longer holds it).
// Each argument names what the message says (the destination, the
// commune, the two incidents).
#[allow(clippy::too_many_arguments)]
pub(super) fn tell_merged(
    a: &Alerting,
    i: usize,
    sink: &dyn Sink,
    tenant: &str,
    from: &str,
    into: &str,
    now: &[&vigie_scope::model::Incident],
) -> bool {
    let key = (
        sink.name().to_string(),
        tenant.to_string(),
        from.to_string(),
    );
    let after = {
        let sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
        match sent.get(&key) {
            // Never told of it, or told of the merge already.
            None => return true,
            Some(s) if s.merged => return true,
            Some(s) => s.count,
        }
    };
    if a.waits_to_be_kept(&key) {
        return true;
    }
    // Claimed as every message is (its own claim told from another
    // node's, room left in the lease for the delivery).
    let claim_key = match super::claim_to_send(a, sink, &key, after) {
        Ok(k) => k,
        Err(done) => return done,
    };
    let (severity, detections, hosts) = {
        let sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.get(&key)
            .map(|s| (s.severity.clone(), s.detections, s.hosts))
            .unwrap_or_default()
    };
    // The most severe part's (parts are ordered by how established their
    // nature is, not by severity).
    let whole = whole(now);
    let into_severity = whole.as_ref().and_then(|inc| {
        serde_json::to_value(inc.severity)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    });
    let into_detections = whole.as_ref().map_or(0, |inc| inc.detections);
    let into_hosts = whole.as_ref().map_or(0, |inc| inc.hosts.len());
    let state = (!now.is_empty()).then(|| {
        json!({
            "live_id": into,
            "severity": into_severity,
            "detections": into_detections,
            "hosts": into_hosts,
        })
    });
    let (fr, en) = match &into_severity {
        Some(sev) if !now.is_empty() => (
            format!(
                " ; {into} — gravité : {}, {into_detections} détection(s), {into_hosts} machine(s)",
                glossary::term(Lang::Fr, sev)
            ),
            format!(
                "; {into}: severity {}, {into_detections} detection(s), {into_hosts} host(s)",
                glossary::term(Lang::En, sev)
            ),
        ),
        _ => (String::new(), String::new()),
    };
    let body = json!({
        "source": "vigie",
        "kind": "incident_merged",
        "tenant": tenant,
        "incident": { "live_id": from, "merged_into": into, "severity": severity },
        "into_now": state,
        "text": a.lang.pick(
            format!(
                "[Vigie] {}{from} : incident fusionné dans {into} (suivre {into}){fr}",
                super::commune(tenant)
            ),
            format!(
                "[Vigie] {}{from}: incident merged into {into} (follow {into}){en}",
                super::commune(tenant)
            ),
        ),
    });
    let outcome = sink.send(&body);
    let record = Record {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sink: sink.name().into(),
        tenant: tenant.into(),
        live_id: from.into(),
        kind: "incident_merged".into(),
        severity,
        detections,
        hosts,
        delivered: outcome.is_ok(),
        error: None,
    };
    let say = a.outcome(i, outcome.is_ok(), &format!("alert {tenant} {from}"));
    match outcome {
        Ok(()) => {
            a.stats.delivered.fetch_add(1, Ordering::Relaxed);
            let count = a.record(&record).unwrap_or(after + 1);
            let mut sent = a.sent.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = sent.get_mut(&key) {
                s.merged = true;
                s.count = count;
            }
            true
        }
        Err(e) => super::not_delivered(a, sink, &claim_key, record, e, say),
    }
}
