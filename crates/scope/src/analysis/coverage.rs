//! Log coverage per host and channel: record-id gaps, silences, clearings.

use std::collections::HashMap;

use chrono::{TimeZone, Utc};

use crate::model::*;
use crate::observer::{join_minute_runs, join_record_runs, joined_minutes, ClearedRaw, CovAcc};

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
        let mut merged = c.runs;
        join_record_runs(&mut merged);
        let mut gaps: Vec<RecordGap> = merged
            .windows(2)
            .map(|w| RecordGap {
                after: w[0].1,
                before: w[1].0,
                missing: w[1].0 - w[0].1 - 1,
            })
            .collect();
        gaps.truncate(MAX_GAPS);
        // Runs of minutes joined across every gap that is not a silence:
        // what lies between two runs is one.
        let mut mins = c.minutes;
        join_minute_runs(&mut mins, joined_minutes(threshold));
        let silences: Vec<Silence> = mins
            .windows(2)
            .map(|w| (w[0].1, w[1].0))
            .filter(|(a, b)| b.saturating_sub(*a).saturating_mul(60) as u64 > threshold)
            .filter_map(|(a, b)| {
                let from = Utc
                    .timestamp_opt(a.checked_mul(60)?.checked_add(59)?, 0)
                    .single()?;
                let to = Utc.timestamp_opt(b.checked_mul(60)?, 0).single()?;
                Some(Silence {
                    from: from.max(c.first?),
                    to: to.min(c.last?),
                    seconds: b.saturating_sub(a).saturating_mul(60) as u64,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::joined_minutes;
    use vigie_event::Timestamp;

    /// A small deterministic generator (xorshift): the order of arrival
    /// is shuffled the same way on every run.
    fn shuffle<T>(v: &mut [T], mut seed: u64) {
        for i in (1..v.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            v.swap(i, (seed % (i as u64 + 1)) as usize);
        }
    }

    fn at(minute: i64) -> Timestamp {
        Utc.timestamp_opt(minute * 60 + 17, 0).single().unwrap()
    }

    /// The silences as they were computed before runs: every minute with
    /// an event kept, sorted, and each gap above the threshold reported.
    fn naive(minutes: &[i64], threshold: u64) -> Vec<(i64, i64)> {
        let mut m = minutes.to_vec();
        m.sort_unstable();
        m.dedup();
        m.windows(2)
            .filter(|w| (w[1] - w[0]) as u64 * 60 > threshold)
            .map(|w| (w[0], w[1]))
            .collect()
    }

    fn silences(accs: Vec<CovAcc>, threshold: u64) -> Vec<Silence> {
        let join = joined_minutes(threshold);
        let mut all = CovAcc::default();
        for a in accs {
            all.merge(a, join);
        }
        let cov = HashMap::from([(("H".to_string(), "Security".to_string()), all)]);
        let mut c = build(cov, &[], threshold);
        c.channels.remove(0).silences
    }

    /// Minutes with events: busy stretches with short pauses, and a few
    /// long ones (silences), some exactly at the threshold.
    fn minutes(threshold: u64) -> Vec<i64> {
        let t = (threshold / 60) as i64;
        let mut v = Vec::new();
        let mut m = 29_000_000;
        for i in 0..3_000i64 {
            v.push(m);
            m += match i % 97 {
                0 => t + 1,  // a silence by one minute
                13 => t,     // as long as the threshold: not one
                50 => 3 * t, // a long one
                _ => 1 + i % 5,
            };
        }
        v
    }

    #[test]
    fn silences_from_runs_are_those_of_every_minute_whatever_the_order() {
        for threshold in [60, 119, 6 * 3600, 3 * 3600 + 30] {
            let mins = minutes(threshold);
            let expected = naive(&mins, threshold);
            assert!(expected.len() > 20, "{threshold}: {}", expected.len());
            for seed in [0, 7, 12345] {
                let mut order = mins.clone();
                if seed > 0 {
                    shuffle(&mut order, seed);
                }
                // Split between three observers, as `hunt`'s threads.
                let join = joined_minutes(threshold);
                let mut accs = vec![CovAcc::default(), CovAcc::default(), CovAcc::default()];
                for (i, m) in order.iter().enumerate() {
                    accs[i % 3].add(Some(at(*m)), None, join);
                }
                let got: Vec<(i64, i64)> = silences(accs, threshold)
                    .iter()
                    .map(|s| {
                        let a = (s.from.timestamp() - 59).div_euclid(60);
                        let b = s.to.timestamp().div_euclid(60);
                        assert_eq!(s.seconds, (b - a) as u64 * 60);
                        (a, b)
                    })
                    .collect();
                let want: Vec<(i64, i64)> = expected.iter().take(MAX_GAPS).copied().collect();
                assert_eq!(got, want, "threshold {threshold}, seed {seed}");
            }
        }
    }

    #[test]
    fn a_week_of_minutes_is_held_in_a_few_runs_even_out_of_order() {
        let threshold = 6 * 3600;
        let join = joined_minutes(threshold);
        // Every minute of a week, then again out of order, with record ids.
        let mut week: Vec<i64> = (0..7 * 24 * 60).map(|m| 29_000_000 + m).collect();
        let mut a = CovAcc::default();
        for (i, m) in week.iter().enumerate() {
            a.add(Some(at(*m)), Some(i as u64 + 1), join);
        }
        assert_eq!(a.minutes.len(), 1);
        assert_eq!(a.runs, vec![(1, week.len() as u64)]);
        shuffle(&mut week, 99);
        let mut b = CovAcc::default();
        for (i, m) in week.iter().enumerate() {
            b.add(Some(at(*m)), Some((i as u64 * 7919) % 10_080 + 1), join);
            assert!(b.minutes.len() <= 2 * 64 + 1, "{}", b.minutes.len());
        }
        let mut runs = b.runs.clone();
        crate::observer::join_record_runs(&mut runs);
        assert_eq!(runs, vec![(1, 10_080)]);
        assert!(silences(vec![b], threshold).is_empty());
    }
}
