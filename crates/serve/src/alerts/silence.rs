//! Channels that fell silent: a host or a source that stopped sending is
//! said once (one message per tenant, destination and look), again only
//! after it sent something and fell silent anew.
//!
//! Apart because silences are keyed and kept on their own
//! (`silence_key`), not per incident.

use super::*;

/// Silences' keys as the journal takes them.
pub(super) fn split(keys: &[String]) -> Vec<[String; 4]> {
    keys.iter()
        .filter_map(|k| {
            let mut p = k.split('\u{1f}').map(str::to_string);
            Some([p.next()?, p.next()?, p.next()?, p.next()?])
        })
        .collect()
}

/// A silence's key: (sink, tenant, host, channel).
pub(super) fn silence_key(sink: &str, tenant: &str, host: &str, channel: &str) -> String {
    format!("{sink}\u{1f}{tenant}\u{1f}{host}\u{1f}{channel}")
}

/// Channels that fell silent: said once each (in one message per tenant,
/// sink and look, however many), again only after they sent something
/// and fell silent anew.
pub(super) fn look_for_silence(health: &Health, a: &Alerting, i: usize, sink: &dyn Sink) {
    let now = chrono::Utc::now().timestamp_micros();
    for tenant in health.tenants() {
        let h = health.of(&tenant, now);
        let mut newly = Vec::new();
        let mut ended = Vec::new();
        {
            let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
            for c in &h.channels {
                let key = silence_key(sink.name(), &tenant, &c.host, &c.channel);
                if !c.silent {
                    if silent.remove(&key) {
                        ended.push(key);
                    }
                } else if !silent.contains(&key) {
                    newly.push((key, c));
                }
            }
        }
        a.silences_changed(&[], &ended);
        if newly.is_empty() {
            continue;
        }
        // Claimed first: one node says a channel silent. Those another
        // node said are taken as said here too; those another node is
        // saying now are looked at again at the next look.
        let keys: Vec<String> = newly.iter().map(|(k, _)| k.clone()).collect();
        let won = match a
            .kept
            .claim_silences(&split(&keys), &a.node, a.lease.as_secs() as i64)
        {
            Ok(won) => {
                a.claims_failed(None);
                won
            }
            Err(e) => {
                a.stats.failed.fetch_add(1, Ordering::Relaxed);
                a.claims_failed(Some(&e.to_string()));
                return;
            }
        };
        if won.iter().any(|w| !w) {
            let lost = newly.len() - won.iter().filter(|w| **w).count();
            a.stats
                .sent_elsewhere
                .fetch_add(lost as u64, Ordering::Relaxed);
            if let Ok(said) = a.kept.silences() {
                let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
                for [s, t, h, ch] in said {
                    let k = silence_key(&s, &t, &h, &ch);
                    if keys.contains(&k) {
                        silent.insert(k);
                    }
                }
            }
        }
        let newly: Vec<_> = newly
            .into_iter()
            .zip(won)
            .filter_map(|(n, w)| w.then_some(n))
            .collect();
        if newly.is_empty() {
            continue;
        }
        // Each with how long it has been quiet: thresholds are per
        // channel (its own rhythm), not one for all.
        let names: Vec<String> = newly
            .iter()
            .map(|(_, c)| format!("{} ({}, {} min)", c.host, c.channel, c.silent_for_secs / 60))
            .collect();
        let body = json!({
            "source": "vigie",
            "kind": "sources_silent",
            "tenant": tenant,
            "silence_threshold_secs": h.silence_threshold_secs,
            // At most 50 (a chat tool or a datagram takes a bounded
            // message), with how many were left out: never cut unsaid.
            "channels": newly.iter().take(CHANNELS_MAX).map(|(_, c)| c).collect::<Vec<_>>(),
            "channels_left_out": newly.len().saturating_sub(CHANNELS_MAX),
            "text": a.lang.pick(
                format!(
                    "[Vigie] {}plus rien reçu, bien au-delà de leur rythme habituel, de {} — journalisation arrêtée ?",
                    super::commune_then(&tenant, " : "),
                    sinks::capped(&names, 20).join(", ")
                ),
                format!(
                    "[Vigie] {}nothing received, well past their usual rhythm, from {} — logging stopped?",
                    super::commune_then(&tenant, ": "),
                    sinks::capped(&names, 20).join(", ")
                ),
            ),
        });
        match sink.send(&body) {
            Ok(()) => {
                a.stats.delivered.fetch_add(1, Ordering::Relaxed);
                a.outcome(i, true, "");
                let said: Vec<String> = newly.into_iter().map(|(k, _)| k).collect();
                a.silences_changed(&said, &[]);
                let mut silent = a.silent.lock().unwrap_or_else(|e| e.into_inner());
                silent.extend(said);
            }
            Err(e) => {
                a.stats.failed.fetch_add(1, Ordering::Relaxed);
                a.outcome(i, false, &format!("silence alert of {tenant}: {e}"));
                // Any node may say them now.
                let keys: Vec<String> = newly.into_iter().map(|(k, _)| k).collect();
                if let Err(e) = a.kept.release_silences(&split(&keys), &a.node) {
                    eprintln!(
                        "vigie serve: claims on silences not let go ({e}): another node says them once they expire"
                    );
                }
                return;
            }
        }
    }
}
