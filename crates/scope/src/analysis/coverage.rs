//! Log coverage per host and channel: record-id gaps, silences, clearings.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use crate::model::*;
use crate::observer::{ClearedRaw, CovAcc};

/// Record gaps and silences listed per channel.
const MAX_GAPS: usize = 200;

pub(crate) fn build(
    cov: HashMap<(String, String), CovAcc>,
    cleared: &[ClearedRaw],
    threshold: u64,
) -> Coverage {
    let mut channels: Vec<ChannelCoverage> = Vec::new();
    let mut cov_sorted: Vec<_> = cov.into_iter().collect();
    cov_sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for ((host, channel), c) in cov_sorted {
        let mut runs = c.runs;
        runs.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in runs {
            match merged.last_mut() {
                Some((_, le)) if s <= le.saturating_add(1) => *le = (*le).max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut gaps: Vec<RecordGap> = merged
            .windows(2)
            .map(|w| RecordGap {
                after: w[0].1,
                before: w[1].0,
                missing: w[1].0 - w[0].1 - 1,
            })
            .collect();
        gaps.truncate(MAX_GAPS);
        let mut mins = c.minutes;
        mins.sort_unstable();
        mins.dedup();
        let silences: Vec<Silence> = mins
            .windows(2)
            .filter(|w| w[1].saturating_sub(w[0]).saturating_mul(60) as u64 > threshold)
            .filter_map(|w| {
                let from = Utc
                    .timestamp_opt(w[0].checked_mul(60)?.checked_add(59)?, 0)
                    .single()?;
                let to = Utc.timestamp_opt(w[1].checked_mul(60)?, 0).single()?;
                Some(Silence {
                    from: from.max(c.first?),
                    to: to.min(c.last?),
                    seconds: w[1].saturating_sub(w[0]).saturating_mul(60) as u64,
                })
            })
            .take(MAX_GAPS)
            .collect();
        let cl: Vec<ClearedLog> = cleared
            .iter()
            .filter(|x| x.host == host && x.channel == channel)
            .map(|x| ClearedLog {
                time: x.time,
                cleared_channel: x.cleared_channel.clone(),
                account: x.account.clone(),
                evidence: x.evidence.clone(),
            })
            .collect();
        channels.push(ChannelCoverage {
            host,
            channel,
            first: c.first,
            last: c.last,
            events: c.events,
            first_record: merged.first().map(|r| r.0),
            last_record: merged.last().map(|r| r.1),
            record_gaps: gaps,
            cleared: cl,
            silences,
        });
    }
    Coverage {
        silence_threshold_secs: threshold,
        channels,
    }
}
