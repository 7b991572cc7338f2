//! The timeline chart: detections per time bin, stacked by severity, with
//! the attack steps marked on top. Inline SVG, computed in Rust.
//!
//! Why stacked by severity with critical at the bottom: the reader should
//! see at a glance *when* the serious detections happened, even when a
//! week of low-severity noise from ordinary activity surrounds them.
//!
//! Why the size is bounded whatever the dates: the chart has at most
//! [`MAX_BARS`] bars and a handful of axis labels, the bar width growing
//! with the period (an hour up to years). Detections far away from all
//! the others (a clock set to 9999, a record dated 1601) would stretch
//! the axis until the attack is one bar: they are set aside as outliers,
//! counted and named under the chart, never silently dropped.

use std::fmt::Write as _;

use chrono::{NaiveTime, TimeDelta, TimeZone, Timelike};
use vigie_event::Timestamp;
use vigie_lang::Zone;

use crate::html::escape;
use crate::text::Voice;

/// Severity ranks, 0 = informational … 4 = critical (Sigma levels).
pub const LEVELS: usize = 5;
/// Bar colours per rank.
pub const LEVEL_COLOURS: [&str; LEVELS] = ["#d0d5dd", "#84adff", "#f79009", "#d92d20", "#7a271a"];
/// Level keys per rank (Sigma vocabulary; shown through the glossary).
pub const LEVEL_NAMES: [&str; LEVELS] = ["informational", "low", "medium", "high", "critical"];
/// At most this many bars, whatever the period.
pub const MAX_BARS: usize = 168;

/// An attack step to mark on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub number: usize,
    pub time: Timestamp,
    pub label: String,
}

/// Detections set aside because their dates are far from all the others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outliers {
    pub count: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// The binned data, exposed for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    pub start: Timestamp,
    /// Width of one bar, in hours.
    pub hours_per_bin: i64,
    /// Counts per bin per level rank.
    pub counts: Vec<[u64; LEVELS]>,
    /// What the chart does not show, if anything.
    pub outliers: Option<Outliers>,
}

const BADGE_GAP: f64 = 19.0;
/// At least this many bins on the axis.
const MIN_BINS: usize = 24;
const W: f64 = 960.0;
const H: f64 = 300.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 62.0;
const BOTTOM: f64 = 44.0;
/// Bar widths, in hours: round durations a reader can name.
const LADDER: [i64; 14] = [
    1,
    2,
    3,
    6,
    12,
    24,
    48,
    24 * 7,
    24 * 14,
    24 * 30,
    24 * 91,
    24 * 182,
    24 * 365,
    24 * 365 * 2,
];

/// The time range worth drawing: everything, except small groups of
/// points at either end separated from the rest by a gap much longer than
/// the rest lasts. `points` sorted by time, with weights.
fn core_range(points: &[(Timestamp, u64)]) -> (usize, usize) {
    let total: u64 = points.iter().map(|p| p.1).sum();
    // A side may be cut if it holds at most a tenth of the detections
    // and is separated by ten times the core's duration and more than a
    // week.
    let small = total / 10;
    let (mut lo, mut hi) = (0usize, points.len().saturating_sub(1));
    for _ in 0..16 {
        if hi <= lo {
            break;
        }
        let mut best: Option<(i64, bool, usize)> = None;
        // Left side: cut before index i (points lo..i are outliers).
        let mut w = 0;
        for i in lo + 1..=hi {
            w += points[i - 1].1;
            if w > small {
                break;
            }
            let gap = (points[i].0 - points[i - 1].0).num_seconds();
            if best.is_none_or(|b| gap > b.0) {
                best = Some((gap, true, i));
            }
        }
        let mut w = 0;
        for i in (lo..hi).rev() {
            w += points[i + 1].1;
            if w > small {
                break;
            }
            let gap = (points[i + 1].0 - points[i].0).num_seconds();
            if best.is_none_or(|b| gap > b.0) {
                best = Some((gap, false, i));
            }
        }
        let Some((gap, left, i)) = best else { break };
        let (nlo, nhi) = if left { (i, hi) } else { (lo, i) };
        let core = (points[nhi].0 - points[nlo].0).num_seconds().max(3600);
        if gap > 7 * 86_400 && gap / 10 > core {
            (lo, hi) = (nlo, nhi);
        } else {
            break;
        }
    }
    (lo, hi)
}

/// Local start of the hour or day holding `t`, so bars begin at 00:00,
/// 06:00… in the reader's zone.
fn align(t: Timestamp, hours: i64, zone: Zone) -> Timestamp {
    // `Zone::naive_local` does not panic at chrono's limits (year 262142).
    let naive = zone.naive_local(t);
    let offset = (naive - t.naive_utc()).num_seconds();
    let midnight = naive.date().and_time(NaiveTime::MIN);
    let truncated = if hours >= 24 {
        midnight
    } else {
        let h = naive.hour() as i64;
        midnight
            .checked_add_signed(TimeDelta::hours(h - h % hours))
            .unwrap_or(midnight)
    };
    chrono::Utc
        .from_utc_datetime(&truncated)
        .checked_sub_signed(TimeDelta::seconds(offset))
        .map_or(t, |utc| utc.min(t))
}

/// Bins the detections: (time, level rank, how many). At most
/// [`MAX_BARS`] bars (plus padding for very short periods), whatever the
/// dates.
pub fn bin(alerts: &[(Timestamp, usize, u64)], steps: &[Step], zone: Zone) -> Option<Bins> {
    let mut points: Vec<(Timestamp, u64)> = alerts
        .iter()
        .map(|a| (a.0, a.2.max(1)))
        .chain(steps.iter().map(|s| (s.time, 0)))
        .collect();
    if points.is_empty() {
        return None;
    }
    points.sort_by_key(|p| p.0);
    let (ilo, ihi) = core_range(&points);
    let (lo, hi) = (points[ilo].0, points[ihi].0);
    let outside: Vec<&(Timestamp, u64)> = points[..ilo]
        .iter()
        .chain(&points[ihi + 1..])
        .filter(|p| p.1 > 0)
        .collect();
    let outliers = (!outside.is_empty()).then(|| Outliers {
        count: outside.iter().map(|p| p.1).sum(),
        first: outside.iter().map(|p| p.0).min().unwrap_or(lo),
        last: outside.iter().map(|p| p.0).max().unwrap_or(hi),
    });

    let span_h = (hi - lo).num_hours() + 1;
    let hours_per_bin = LADDER
        .into_iter()
        .find(|&b| span_h / b < MAX_BARS as i64)
        .unwrap_or_else(|| {
            // Beyond the ladder (centuries of real data): whole multiples
            // of two years.
            let two_years = 24 * 365 * 2;
            (span_h / MAX_BARS as i64 / two_years + 1) * two_years
        });
    let mut start = align(lo, hours_per_bin, zone);
    let mut n = ((hi - start).num_hours() / hours_per_bin + 1).max(1) as usize;
    // A short incident still gets a day-wide axis, centred, so two
    // detections an hour apart do not become two wall-to-wall bars.
    if n < MIN_BINS {
        let pad = (MIN_BINS - n) / 2;
        start = start
            .checked_sub_signed(TimeDelta::hours(hours_per_bin * pad as i64))
            .unwrap_or(start);
        n = MIN_BINS;
    }
    let mut counts = vec![[0u64; LEVELS]; n];
    for &(t, level, weight) in alerts {
        if t < lo || t > hi {
            continue;
        }
        let i = ((t - start).num_hours() / hours_per_bin).max(0) as usize;
        counts[i.min(n - 1)][level.min(LEVELS - 1)] += weight;
    }
    Some(Bins {
        start,
        hours_per_bin,
        counts,
        outliers,
    })
}

/// Renders the chart as inline SVG (with a note for outliers), or a
/// sentence when there is nothing with a time to draw.
pub fn render(alerts: &[(Timestamp, usize, u64)], steps: &[Step], t: &Voice) -> String {
    let Some(b) = bin(alerts, steps, t.zone) else {
        return format!(r#"<p class="empty">{}</p>"#, escape(t.t_empty));
    };
    let n = b.counts.len() as f64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let bw = plot_w / n;
    let max = b
        .counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    // Round tick step (1, 2, 5 × 10^k), at most four steps, integer counts.
    let tick = nice_ceiling(max.div_ceil(4));
    let ymax = tick * max.div_ceil(tick);
    // Checked arithmetic: times at the ends of what chrono represents must
    // not panic the report.
    let end = b
        .start
        .checked_add_signed(TimeDelta::hours(b.hours_per_bin * b.counts.len() as i64))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    let x_of = |ts: Timestamp| {
        let hours = (ts - b.start).num_seconds() as f64 / 3600.0;
        LEFT + hours / b.hours_per_bin as f64 * bw
    };
    let y_of = |v: f64| TOP + plot_h - v / ymax as f64 * plot_h;

    let mut s = String::new();
    let unit = if b.hours_per_bin == 1 {
        t.t_per_hour.to_string()
    } else {
        t.per_bin(&t.span_words(b.hours_per_bin))
    };
    let _ = write!(
        s,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" role="img" aria-label="{}" font-family="inherit">"#,
        escape(t.s_timeline)
    );
    // Grid and y axis.
    for i in 0..=ymax / tick {
        let v = (i * tick) as f64;
        let y = y_of(v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#eaecf0"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#667085">{v:.0}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{y}" font-size="11" fill="#475467">{}</text>"##,
        escape(&unit),
        y = TOP - 8.0
    );
    // Axis labels: at most a dozen, on local day (or hour) boundaries.
    let span_h = (end - b.start).num_hours().max(1);
    let label_h = LADDER
        .into_iter()
        .chain([24 * 365 * 5, 24 * 365 * 10, 24 * 365 * 100])
        .find(|&h| h >= b.hours_per_bin && span_h / h <= 12)
        .unwrap_or(span_h);
    let mut tick_t = align(b.start, label_h.min(24), t.zone);
    if tick_t < b.start {
        tick_t = tick_t
            .checked_add_signed(TimeDelta::hours(label_h.min(24)))
            .unwrap_or(end);
    }
    let mut last_year = None;
    for _ in 0..64 {
        if tick_t > end {
            break;
        }
        let x = x_of(tick_t);
        let local = t.zone.date(tick_t);
        let label = if label_h < 24 {
            let hm = t.short_time(&tick_t);
            // `2026-01-10 06:00 CET` → `06:00`
            hm.split(' ').nth(1).unwrap_or(&hm).to_string()
        } else {
            use chrono::Datelike;
            let year = last_year != Some(local.year());
            last_year = Some(local.year());
            t.day(&tick_t, year)
        };
        if x < W - RIGHT - 30.0 {
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{y2}" stroke="#d0d5dd"/><text x="{tx:.1}" y="{ty}" font-size="11" fill="#475467">{}</text>"##,
                escape(&label),
                y2 = TOP + plot_h + 4.0,
                tx = x + 3.0,
                ty = TOP + plot_h + 16.0
            );
        }
        match tick_t.checked_add_signed(TimeDelta::hours(label_h)) {
            Some(next) => tick_t = align(next, label_h.min(24), t.zone),
            None => break,
        }
    }
    // Bars, critical at the bottom.
    for (i, c) in b.counts.iter().enumerate() {
        let mut acc = 0.0;
        for level in (0..LEVELS).rev() {
            if c[level] == 0 {
                continue;
            }
            let y0 = y_of(acc);
            acc += c[level] as f64;
            let y1 = y_of(acc);
            let bin_start = b
                .start
                .checked_add_signed(TimeDelta::hours(b.hours_per_bin * i as i64))
                .unwrap_or(b.start);
            let _ = write!(
                s,
                r##"<rect x="{x:.2}" y="{y1:.2}" width="{w:.2}" height="{h:.2}" fill="{fill}"><title>{tip}</title></rect>"##,
                x = LEFT + i as f64 * bw + bw * 0.08,
                w = (bw * 0.84).max(0.8),
                h = (y0 - y1).max(0.5),
                fill = LEVEL_COLOURS[level],
                tip = escape(&format!(
                    "{} — {} {}",
                    t.short_time(&bin_start),
                    t.number(c[level]),
                    t.term(LEVEL_NAMES[level])
                )),
            );
        }
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#98a2b3"/>"##,
        x2 = W - RIGHT,
        y = TOP + plot_h
    );
    // Step markers: numbered badges in one row above the plot, pushed
    // apart where steps crowd (minutes apart on a week-long axis), each
    // joined to its true time by a leader line. Steps among the outliers
    // are listed under the chart, not drawn off it.
    let mut sorted: Vec<&Step> = steps
        .iter()
        .filter(|st| st.time >= b.start && st.time <= end)
        .collect();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then(a.number.cmp(&b.number)));
    let xs: Vec<f64> = sorted.iter().map(|st| x_of(st.time)).collect();
    let badges = spread(&xs, BADGE_GAP, LEFT, W - RIGHT - 9.0);
    for ((st, &x), &bx) in sorted.iter().zip(&xs).zip(&badges) {
        let cy = 14.0;
        let _ = write!(
            s,
            r##"<g class="step"><title>{tip}</title><path d="M{bx:.1},{y0:.1} L{bx:.1},{y1:.1} L{x:.1},{y2:.1} L{x:.1},{y3}" fill="none" stroke="#b42318" stroke-dasharray="3 3" stroke-width="1"/><circle cx="{bx:.1}" cy="{cy:.1}" r="8.5" fill="#b42318"/><text x="{bx:.1}" y="{ty:.1}" font-size="10" font-weight="700" text-anchor="middle" fill="#ffffff">{n}</text></g>"##,
            tip = escape(&format!(
                "{} · {} · {}",
                st.number,
                t.long_time(&st.time),
                st.label
            )),
            y0 = cy + 8.5,
            y1 = cy + 16.0,
            y2 = TOP - 4.0,
            y3 = TOP + plot_h,
            ty = cy + 3.5,
            n = st.number,
        );
    }
    s.push_str("</svg>");
    if let Some(o) = b.outliers {
        let _ = write!(
            s,
            r#"<p class="note outliers">{}</p>"#,
            escape(&t.outliers(o.count, &o.first, &o.last))
        );
    }
    s
}

/// Positions for badges wanted at `xs` (sorted): as close to their x as
/// possible, at least `gap` apart, within `[lo, hi]`.
fn spread(xs: &[f64], gap: f64, lo: f64, hi: f64) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(xs.len());
    for &x in xs {
        let min = out.last().map_or(lo, |&p| p + gap);
        out.push(x.max(min));
    }
    // Pull back from the right edge.
    let mut max = hi;
    for p in out.iter_mut().rev() {
        *p = p.min(max);
        max = *p - gap;
    }
    out
}

/// 1, 2, 5 × 10^k at or above `v`, so the axis reads in round numbers.
fn nice_ceiling(v: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            if m.saturating_mul(p) >= v {
                return m.saturating_mul(p);
            }
        }
        p = p.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Voice;
    use chrono::{TimeZone, Utc};
    use vigie_lang::{Lang, Zone};

    fn en() -> Voice {
        Voice::new(Lang::En, Zone::Utc)
    }

    fn at(d: u32, h: u32, m: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    #[test]
    fn alerts_are_binned_per_hour_over_a_few_days() {
        let alerts = vec![
            (at(8, 2, 10), 4, 1),
            (at(8, 2, 59), 3, 1),
            (at(8, 3, 0), 3, 1),
            (at(13, 1, 0), 4, 1),
            (at(13, 1, 30), 9, 1), // out-of-range level clamps to critical
        ];
        let b = bin(&alerts, &[], Zone::Utc).unwrap();
        assert_eq!(b.hours_per_bin, 1);
        assert_eq!(b.start, at(8, 2, 0));
        assert_eq!(b.counts[0], [0, 0, 0, 1, 1]);
        assert_eq!(b.counts[1], [0, 0, 0, 1, 0]);
        assert_eq!(b.counts.last().unwrap()[4], 2);
        let total: u64 = b.counts.iter().flatten().sum();
        assert_eq!(total, alerts.len() as u64);
        assert_eq!(b.outliers, None);
    }

    #[test]
    fn long_periods_use_wider_bins_and_few_bars() {
        let alerts = vec![(at(1, 0, 0), 1, 1), (at(31, 23, 0), 1, 1)];
        let b = bin(&alerts, &[], Zone::Utc).unwrap();
        assert_eq!(b.hours_per_bin, 6);
        assert!(b.counts.len() <= MAX_BARS);
        // Two clusters of equal weight years apart are both data, not outliers.
        let far = Utc.with_ymd_and_hms(2031, 3, 1, 0, 0, 0).unwrap();
        let alerts = vec![(at(1, 0, 0), 1, 5), (far, 1, 5)];
        let b = bin(&alerts, &[], Zone::Utc).unwrap();
        assert!(b.counts.len() <= MAX_BARS, "{}", b.counts.len());
        assert_eq!(b.outliers, None);
        assert_eq!(b.counts.iter().flatten().sum::<u64>(), 10);
    }

    #[test]
    fn a_date_in_9999_is_an_outlier_not_a_million_bars() {
        let mut alerts: Vec<_> = (0..200).map(|i| (at(8 + i % 5, i % 24, 0), 3, 1)).collect();
        let y9999 = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
        alerts.push((y9999, 4, 1));
        let b = bin(&alerts, &[], Zone::Utc).unwrap();
        assert!(b.hours_per_bin <= 2, "{}", b.hours_per_bin);
        let o = b.outliers.unwrap();
        assert_eq!((o.count, o.first, o.last), (1, y9999, y9999));
        let svg = render(&alerts, &[], &en());
        assert!(svg.len() < 150_000, "{} bytes", svg.len());
        assert!(svg.contains("9999-12-31 23:59 UTC"), "outlier named");
        // Only outliers, nothing else: the chart spans them.
        let b = bin(&[(y9999, 4, 1)], &[], Zone::Utc).unwrap();
        assert_eq!(b.outliers, None);
        // Extreme spans (year 1 to 9999 evenly) stay bounded.
        let spread: Vec<_> = (1..=9999)
            .step_by(97)
            .map(|y| (Utc.with_ymd_and_hms(y, 6, 1, 0, 0, 0).unwrap(), 2, 1))
            .collect();
        let b = bin(&spread, &[], Zone::Utc).unwrap();
        assert!(b.counts.len() <= MAX_BARS, "{}", b.counts.len());
        assert!(render(&spread, &[], &en()).len() < 150_000);
    }

    #[test]
    fn bars_start_at_local_midnight() {
        let paris: Zone = "Europe/Paris".parse().unwrap();
        let july = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        let alerts = vec![(at(1, 5, 0), 1, 1), (july, 1, 1)];
        let b = bin(&alerts, &[], paris).unwrap();
        assert_eq!(b.hours_per_bin, 24);
        // 1 March 00:00 in Paris is 28 February 23:00 UTC.
        assert_eq!(
            b.start,
            Utc.with_ymd_and_hms(2026, 2, 28, 23, 0, 0).unwrap()
        );
    }

    #[test]
    fn steps_extend_the_period_and_are_drawn() {
        let steps = vec![Step {
            number: 13,
            time: at(14, 8, 30),
            label: "noticed <b>".into(),
        }];
        let b = bin(&[(at(14, 1, 0), 4, 1)], &steps, Zone::Utc).unwrap();
        // Eight hours of data, padded to a day, centred.
        assert_eq!(b.counts.len(), MIN_BINS);
        assert_eq!(b.start, at(14, 1, 0) - TimeDelta::hours(8));
        assert_eq!(b.counts[8][4], 1);
        let svg = render(&[(at(14, 1, 0), 4, 250)], &steps, &en());
        assert!(svg.contains("250 critical"));
        assert!(svg.contains(">13</text>"));
        assert!(svg.contains("noticed &lt;b&gt;"));
        assert!(render(&[], &[], &en()).contains(en().t_empty));
    }

    #[test]
    fn crowded_step_badges_are_spread_apart() {
        let p = spread(
            &[100.0, 101.0, 102.0, 500.0, 1170.0, 1171.0],
            19.0,
            50.0,
            1160.0,
        );
        assert_eq!(p[..4], [100.0, 119.0, 138.0, 500.0]);
        assert_eq!(p[4..], [1141.0, 1160.0]);
        assert!(p.windows(2).all(|w| w[1] - w[0] >= 19.0));
    }

    #[test]
    fn axis_rounds_up() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(500), 500);
        assert_eq!(nice_ceiling(501), 1000);
    }
}
