//! The timeline chart: alerts per time bin, stacked by severity, with the
//! attack steps marked on top. Inline SVG, computed in Rust.
//!
//! Why stacked by severity with critical at the bottom: the reader should
//! see at a glance *when* the serious alerts happened, even when a week of
//! low-severity noise from ordinary activity surrounds them.

use std::fmt::Write as _;

use chrono::{DurationRound, TimeDelta, Timelike};
use vigie_event::Timestamp;

use crate::html::escape;
use crate::text::Strings;

/// Severity ranks, 0 = informational … 4 = critical (Sigma levels).
pub const LEVELS: usize = 5;
/// Bar colours per rank.
pub const LEVEL_COLOURS: [&str; LEVELS] = ["#d0d5dd", "#84adff", "#f79009", "#d92d20", "#7a271a"];
/// Level names per rank (Sigma vocabulary, not translated).
pub const LEVEL_NAMES: [&str; LEVELS] = ["informational", "low", "medium", "high", "critical"];

/// An attack step to mark on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub number: usize,
    pub time: Timestamp,
    pub label: String,
}

/// The binned data, exposed for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Bins {
    pub start: Timestamp,
    pub hours_per_bin: i64,
    /// Counts per bin per level rank.
    pub counts: Vec<[u64; LEVELS]>,
}

const BADGE_GAP: f64 = 19.0;
/// At least this many bins on the axis.
const MIN_BINS: usize = 24;
const W: f64 = 1180.0;
const H: f64 = 300.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 62.0;
const BOTTOM: f64 = 44.0;

/// Bins the alerts: (time, level rank, how many). The bin width grows with the period covered, so the
/// chart keeps at most a few hundred bars.
pub fn bin(alerts: &[(Timestamp, usize, u64)], steps: &[Step]) -> Option<Bins> {
    let times = alerts
        .iter()
        .map(|a| a.0)
        .chain(steps.iter().map(|s| s.time));
    let (lo, hi) = times.fold(None, |acc: Option<(Timestamp, Timestamp)>, t| match acc {
        None => Some((t, t)),
        Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
    })?;
    let span_h = (hi - lo).num_hours() + 1;
    let hours_per_bin = [1, 2, 3, 6, 12, 24, 48, 168]
        .into_iter()
        .find(|&b| span_h / b <= 400)
        .unwrap_or(168);
    let mut start = lo.duration_trunc(TimeDelta::hours(1)).unwrap_or(lo);
    // Align multi-hour bins on the day, so bars start at 00:00, 06:00, ...
    if hours_per_bin > 1 && hours_per_bin <= 24 {
        let h = start.hour() as i64;
        start -= TimeDelta::hours(h % hours_per_bin);
    }
    let mut n = ((hi - start).num_hours() / hours_per_bin + 1).max(1) as usize;
    // A short incident still gets a day-wide axis, centred, so two alerts
    // an hour apart do not become two wall-to-wall bars.
    if n < MIN_BINS {
        let pad = (MIN_BINS - n) / 2;
        start -= TimeDelta::hours(hours_per_bin * pad as i64);
        n = MIN_BINS;
    }
    let mut counts = vec![[0u64; LEVELS]; n];
    for &(t, level, weight) in alerts {
        let i = ((t - start).num_hours() / hours_per_bin) as usize;
        counts[i.min(n - 1)][level.min(LEVELS - 1)] += weight;
    }
    Some(Bins {
        start,
        hours_per_bin,
        counts,
    })
}

/// Renders the chart as inline SVG, or a sentence when there is nothing
/// with a time to draw.
pub fn render(alerts: &[(Timestamp, usize, u64)], steps: &[Step], t: &Strings) -> String {
    let Some(b) = bin(alerts, steps) else {
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
    let x_of = |ts: Timestamp| {
        let hours = (ts - b.start).num_seconds() as f64 / 3600.0;
        LEFT + hours / b.hours_per_bin as f64 * bw
    };
    let y_of = |v: f64| TOP + plot_h - v / ymax as f64 * plot_h;

    let mut s = String::new();
    let unit = if b.hours_per_bin == 1 {
        t.t_per_hour.to_string()
    } else {
        format!("{} (×{} h)", t.t_per_hour, b.hours_per_bin)
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
        r##"<text x="{LEFT}" y="{y}" font-size="11" fill="#667085">{}</text>"##,
        escape(&unit),
        y = TOP - 8.0
    );
    // Day boundaries.
    let first_day = b
        .start
        .duration_trunc(TimeDelta::days(1))
        .unwrap_or(b.start);
    let end = b.start + TimeDelta::hours(b.hours_per_bin * b.counts.len() as i64);
    let days = (end - first_day).num_days() + 1;
    let day_step = (days / 14 + 1).max(1);
    // Over three days or less, hour marks help (`06:00`, `12:00`, `18:00`).
    if days <= 3 && b.hours_per_bin <= 3 {
        let mut h = b.start;
        while h <= end {
            let hour = h.hour();
            if hour % 6 == 0 && hour != 0 {
                let x = x_of(h);
                let _ = write!(
                    s,
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{y1}" y2="{y2}" stroke="#d0d5dd"/><text x="{x:.1}" y="{ty}" font-size="10" text-anchor="middle" fill="#98a2b3">{hour:02}:00</text>"##,
                    y1 = TOP + plot_h,
                    y2 = TOP + plot_h + 4.0,
                    ty = TOP + plot_h + 30.0
                );
            }
            h += TimeDelta::hours(1);
        }
    }
    let mut d = first_day;
    let mut k = 0;
    while d <= end {
        if d >= b.start {
            let x = x_of(d);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{y2}" stroke="#d0d5dd"/>"##,
                y2 = TOP + plot_h
            );
            if k % day_step == 0 && x < W - RIGHT - 40.0 {
                let _ = write!(
                    s,
                    r##"<text x="{tx:.1}" y="{ty}" font-size="11" fill="#475467">{}</text>"##,
                    escape(&t.day(&d)),
                    tx = x + 3.0,
                    ty = TOP + plot_h + 16.0
                );
            }
        }
        d += TimeDelta::days(1);
        k += 1;
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
            let bin_start = b.start + TimeDelta::hours(b.hours_per_bin * i as i64);
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
                    c[level],
                    LEVEL_NAMES[level]
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
    // joined to its true time by a leader line.
    let mut sorted: Vec<&Step> = steps.iter().collect();
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
        for m in [1, 2, 5] {
            if m * p >= v {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::EN;
    use chrono::{TimeZone, Utc};

    fn at(d: u32, h: u32, m: u32) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    #[test]
    fn alerts_are_binned_per_hour_over_a_week() {
        let alerts = vec![
            (at(8, 2, 10), 4, 1),
            (at(8, 2, 59), 3, 1),
            (at(8, 3, 0), 3, 1),
            (at(14, 1, 0), 4, 1),
            (at(14, 1, 30), 9, 1), // out-of-range level clamps to critical
        ];
        let b = bin(&alerts, &[]).unwrap();
        assert_eq!(b.hours_per_bin, 1);
        assert_eq!(b.start, at(8, 2, 0));
        assert_eq!(b.counts[0], [0, 0, 0, 1, 1]);
        assert_eq!(b.counts[1], [0, 0, 0, 1, 0]);
        assert_eq!(b.counts.len(), 6 * 24 + 1 - 2 + 1);
        assert_eq!(b.counts.last().unwrap()[4], 2);
        let total: u64 = b.counts.iter().flatten().sum();
        assert_eq!(total, alerts.len() as u64);
    }

    #[test]
    fn long_periods_use_wider_bins() {
        let alerts = vec![(at(1, 0, 0), 1, 1), (at(31, 23, 0), 1, 1)];
        let b = bin(&alerts, &[]).unwrap();
        assert_eq!(b.hours_per_bin, 2);
        assert!(b.counts.len() <= 400);
    }

    #[test]
    fn steps_extend_the_period_and_are_drawn() {
        let steps = vec![Step {
            number: 13,
            time: at(14, 8, 30),
            label: "noticed <b>".into(),
        }];
        let b = bin(&[(at(14, 1, 0), 4, 1)], &steps).unwrap();
        // Eight hours of data, padded to a day, centred.
        assert_eq!(b.counts.len(), MIN_BINS);
        assert_eq!(b.start, at(14, 1, 0) - TimeDelta::hours(8));
        assert_eq!(b.counts[8][4], 1);
        let svg = render(&[(at(14, 1, 0), 4, 250)], &steps, &EN);
        assert!(svg.contains("250 critical"));
        assert!(svg.contains(">13</text>"));
        assert!(svg.contains("noticed &lt;b&gt;"));
        assert!(render(&[], &[], &EN).contains(EN.t_empty));
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
