//! Sources health: per sender and per host and channel, what arrived and
//! when — and which went silent.
//!
//! Why on receipt time and not event time: the attacker who stops the
//! logging (service stopped, audit policy changed, agent removed) stops
//! what *arrives*; a host's clock may be wrong, its events may come in
//! late batches, but silence on the wire is what says "we are blind
//! here". The event-time view (gaps between records, record-id holes,
//! cleared logs) is the scope's coverage, given beside it.
//!
//! Why each channel is judged on its own rhythm: one threshold for all
//! (an hour) pages every quiet night for a channel that logs three
//! events a week (PowerShell/Operational), and a technician paged for
//! nothing learns to ignore the page that matters. Each (host, channel)
//! keeps the gaps between its last arrivals ([`GAPS_KEPT`]); it is
//! silent only once nothing arrived for [`SILENCE_FACTOR`] times the
//! longest of them, and never sooner than the threshold set
//! (`--silence-minutes`, the floor). A channel with fewer than
//! [`GAPS_TO_JUDGE`] gaps known is too rarely seen to know what its
//! silence means: it is not judged (never paged), and said so ("rare,
//! not judged") rather than shown as receiving. A cleared log (1102,
//! 104) is a detection of its own, paged as an incident at once
//! whatever the channel's rhythm.
//!
//! Why the hours a channel usually sends in: a busy channel's recent gaps
//! are seconds, so its threshold is the floor — and a town-hall
//! workstation's Security log, busy from 07:00 to 20:00 and quiet at
//! night, would be paged every evening an hour after the last clerk left
//! (the night's gap ages out of the last arrivals by mid-morning). A
//! channel that usually sends every hour (its usual gap under an hour)
//! keeps which hours of the last [`HOURS_KEPT`] it sent in; its silence
//! is counted only over the hours it sent in a week before (or, while
//! less than a week is known, a day before) — and sent in the hour after
//! too, so that a day ending an hour earlier than last week's is not a
//! silence. Past its threshold in those hours it is silent (a log
//! stopped at 10:00 on a working day is paged at the floor, as before);
//! past it only in hours it usually does not send in, it is `quiet` (its
//! night, its weekend): shown, not paged. Nothing known of an hour (a
//! channel first seen today) counts it: the first night of a new channel
//! is still paged once.
//!
//! Why events dated ahead of their receipt are counted here too: an event
//! more than [`crate::live::FUTURE_TOLERANCE`] after the time it was
//! received says the sending host's clock is wrong (or the event is
//! forged). The live scope keeps them from moving its horizon and counts
//! them per commune; the technician also needs *which host* to fix, so
//! each channel counts its own, with the lead of the latest.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Default: a channel that sent nothing for this long is silent.
pub const SILENCE_SECS: u64 = 3600;

/// Gaps between arrivals kept per channel: the rhythm is the recent
/// one (an outage long past ages out after this many arrivals). Kept as
/// the arrivals' times (a few hundred bytes per channel).
pub const GAPS_KEPT: usize = 32;
/// Gaps known before a channel's silence is judged.
pub const GAPS_TO_JUDGE: usize = 5;
/// A channel is silent past this many times its longest usual gap.
pub const SILENCE_FACTOR: u64 = 3;
/// Receipts closer than this are one arrival (one shipper's flush sent
/// as several requests).
const ARRIVAL_US: i64 = 1_000_000;
/// Hours whose arrivals a channel keeps (a week and a day: each hour is
/// compared with the same hour a week before, and the hour after it).
pub const HOURS_KEPT: i64 = 192;
const HOUR_US: i64 = 3_600_000_000;
/// A channel whose usual gap is under this is judged on the hours it
/// usually sends in (see the module's doc); sparser ones on the clock
/// alone (their usual gap already spans their quiet hours).
const HOURLY_GAP_US: i64 = HOUR_US;

#[derive(Debug, Clone, Default)]
struct Seen {
    events: u64,
    /// Time of receipt of the last event (UTC, µs).
    last_received: i64,
    /// The times of its last arrivals (µs), at most [`GAPS_KEPT`] + 1:
    /// kept sorted, so that events observed out of their order of
    /// receipt (a rebuild after a crash hands some out again) give the
    /// same gaps.
    arrivals: std::collections::BTreeSet<i64>,
    /// The hours (since the epoch, UTC) it received in, over the last
    /// [`HOURS_KEPT`] up to `newest_hour`: a ring of bits.
    hours: [u64; 3],
    /// The newest hour it received in (`None`: nothing yet).
    newest_hour: Option<i64>,
    /// The oldest hour it received in: nothing is known of its rhythm
    /// before.
    first_hour: i64,
    /// Events dated more than the tolerance after their receipt.
    future: u64,
    /// The latest of them (by receipt): its lead over its receipt (µs)
    /// and its receipt time.
    future_last: Option<(i64, i64)>,
}

impl Seen {
    fn mark_hour(&mut self, h: i64) {
        let bit = |h: i64| {
            (
                h.rem_euclid(HOURS_KEPT) as usize / 64,
                h.rem_euclid(64) as u32,
            )
        };
        match self.newest_hour {
            None => {
                self.newest_hour = Some(h);
                self.first_hour = h;
            }
            Some(n) if h > n => {
                if h - n >= HOURS_KEPT {
                    self.hours = [0; 3];
                } else {
                    for x in n + 1..=h {
                        let (w, b) = bit(x);
                        self.hours[w] &= !(1u64 << b);
                    }
                }
                self.newest_hour = Some(h);
            }
            // Older than the ring: nothing to keep.
            Some(n) if h <= n - HOURS_KEPT => return,
            Some(_) => {}
        }
        self.first_hour = self.first_hour.min(h);
        let (w, b) = bit(h);
        self.hours[w] |= 1u64 << b;
    }

    /// Whether it received in hour `h`: `None` when nothing is known of
    /// it (before the first arrival, or out of the ring).
    fn received_in(&self, h: i64) -> Option<bool> {
        let n = self.newest_hour?;
        if h > n {
            return Some(false);
        }
        if h < self.first_hour || h <= n - HOURS_KEPT {
            return None;
        }
        let (w, b) = (
            h.rem_euclid(HOURS_KEPT) as usize / 64,
            h.rem_euclid(64) as u32,
        );
        Some(self.hours[w] & (1u64 << b) != 0)
    }

    /// Whether hour `h` is one it usually sends in: it sent in that hour
    /// and the next a week before (a day before while the week is not
    /// known); nothing known: it is (judged, as a new channel is).
    fn usually_sends_in(&self, h: i64) -> bool {
        for back in [168, 24] {
            if let (Some(a), Some(b)) = (self.received_in(h - back), self.received_in(h - back + 1))
            {
                return a && b;
            }
        }
        true
    }

    /// The time (µs) of its silence from its last receipt to `now` spent
    /// in hours it usually sends in. Bounded: past a week of silence no
    /// hour counts any more, and the walk stops there.
    fn silence_in_its_hours(&self, now: i64) -> i64 {
        let mut counted = 0;
        let mut at = self.last_received;
        while at < now {
            let h = at.div_euclid(HOUR_US);
            let end = ((h + 1) * HOUR_US).min(now);
            if self.usually_sends_in(h) {
                counted += end - at;
            } else if h - 168 > self.newest_hour.unwrap_or(h) {
                // Past a week of silence every hour compares with a
                // silent one: nothing more will count.
                break;
            }
            at = end;
        }
        counted
    }

    /// The longest gap between its kept arrivals, if enough are known to
    /// judge.
    fn usual_gap(&self) -> Option<i64> {
        let gaps = self.arrivals.len().saturating_sub(1);
        (gaps >= GAPS_TO_JUDGE).then(|| {
            self.arrivals
                .iter()
                .zip(self.arrivals.iter().skip(1))
                .map(|(a, b)| b - a)
                .max()
                .unwrap_or(0)
        })
    }
}

/// Host-channel pairs (and names as written) tracked per commune: a
/// commune has hundreds of hosts with a few channels each. Past it, a
/// new host or channel is counted in [`SourcesHealth::untracked_events`]
/// rather than given its own entry: a sender writing a new host name in
/// every event must not grow the server's memory without bound.
pub const MAX_CHANNELS: usize = 1 << 16;

/// Longest host or channel name tracked, in bytes (DNS names stop at
/// 253): what the table holds is bounded in size, not only in count.
pub const MAX_NAME: usize = 255;

/// Names as written shown per host (the others counted).
pub const ALIASES_SHOWN: usize = 50;

#[derive(Debug, Default)]
struct Tenant {
    senders: BTreeMap<String, Seen>,
    /// Host as written → the host's one name (the scope's: short name,
    /// upper case — `dc01.ccpab.local` and `DC01` are `DC01`, as in the
    /// incidents): looked up with the event's own string (no allocation
    /// per event).
    hosts: BTreeMap<String, String>,
    /// The host's name → channel → seen.
    channels: BTreeMap<String, BTreeMap<String, Seen>>,
    /// Channels in `channels`, over every host.
    tracked: usize,
    /// Events of a host or channel first seen once [`MAX_CHANNELS`] were
    /// tracked (or `hosts` held as many names).
    untracked: u64,
}

fn bump(s: &mut Seen, received: i64) {
    s.events += 1;
    s.mark_hour(received.div_euclid(HOUR_US));
    s.last_received = s.last_received.max(received);
    // A receipt within a second of a kept one is that arrival.
    let near = s
        .arrivals
        .range(received.saturating_sub(ARRIVAL_US - 1)..received.saturating_add(ARRIVAL_US))
        .next()
        .is_some();
    if !near {
        s.arrivals.insert(received);
        if s.arrivals.len() > GAPS_KEPT + 1 {
            s.arrivals.pop_first();
        }
    }
}

/// Counts an event of a channel that is not tracked (`why`: past
/// [`MAX_CHANNELS`], or a name past [`MAX_NAME`]); said on stderr the
/// first time for the commune.
fn untracked(tenant: &str, t: &mut Tenant, why: &str) {
    if t.untracked == 0 {
        eprintln!(
            "vigie serve: commune {tenant:?}: an event counted without its channel ({why}; at most {MAX_CHANNELS} host channels and names are tracked): such events are counted together (untracked_events in /api/v1/sources) — a sender may be writing a new host name in every event"
        );
    }
    t.untracked += 1;
}

/// One event received at `received` (µs), dated `time`, on channel `seen`.
fn count(seen: &mut Seen, received: i64, time: Option<i64>) {
    bump(seen, received);
    let tolerance = crate::live::FUTURE_TOLERANCE
        .num_microseconds()
        .unwrap_or(i64::MAX);
    if let Some(ahead) = time
        .map(|t| t.saturating_sub(received))
        .filter(|a| *a > tolerance)
    {
        seen.future += 1;
        if seen.future_last.is_none_or(|(_, at)| received >= at) {
            seen.future_last = Some((ahead, received));
        }
    }
}

/// A host's one name wherever Vigie shows it (sources, alerts,
/// incidents): the scope's ([`vigie_scope::names::host_key`]); a name it
/// takes for none (`localhost`, `-`) as written, lower case.
pub fn host_name(raw: &str) -> String {
    if raw == "?" {
        return raw.to_string();
    }
    vigie_scope::names::host_key(raw).unwrap_or_else(|| raw.to_ascii_lowercase())
}

/// The entry of `key` in `map`, made on first sight only.
fn entry<'a>(map: &'a mut BTreeMap<String, Seen>, key: &str) -> &'a mut Seen {
    if !map.contains_key(key) {
        map.insert(key.to_string(), Seen::default());
    }
    map.get_mut(key).expect("inserted")
}

/// One channel of one host, as received.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelHealth {
    /// The host's one name (as the incidents name it).
    pub host: String,
    /// Its names as the events wrote them (`dc01.ccpab.local`, `DC01`),
    /// at most [`ALIASES_SHOWN`].
    pub aliases: Vec<String>,
    /// Its names as written beyond those shown.
    pub aliases_left_out: usize,
    pub channel: String,
    pub events: u64,
    pub last_received: String,
    /// Nothing received for longer than its threshold (`threshold_secs`).
    pub silent: bool,
    pub silent_for_secs: u64,
    /// `receiving`, `silent`, or `rare`: seen too rarely to know its
    /// rhythm (fewer than [`GAPS_TO_JUDGE`] gaps between arrivals), so
    /// never judged silent.
    pub state: &'static str,
    /// The longest of its recent gaps between arrivals (null: `rare`).
    pub usual_gap_secs: Option<u64>,
    /// Silent past this: [`SILENCE_FACTOR`] times `usual_gap_secs`, never
    /// under the threshold set (null: `rare`, not judged).
    pub threshold_secs: Option<u64>,
    /// For a channel judged on the hours it usually sends in (usual gap
    /// under an hour): the part of `silent_for_secs` spent in those hours
    /// — what is compared with `threshold_secs`. Null for the others
    /// (judged on `silent_for_secs`).
    pub silent_in_its_hours_secs: Option<u64>,
    /// Its events dated more than 5 minutes after their receipt: the
    /// host's clock is ahead (or the events forged).
    pub events_future: u64,
    /// The latest such event's lead over its receipt (null: none).
    pub future_ahead_secs: Option<u64>,
    /// When the latest such event was received (null: none).
    pub future_last_received: Option<String>,
}

/// A host sending events dated ahead of their receipt.
#[derive(Debug, Clone, Serialize)]
pub struct FutureHost {
    pub tenant: String,
    /// The host's one name.
    pub host: String,
    pub events_future: u64,
    /// The latest such event's lead over its receipt.
    pub ahead_secs: u64,
    pub last_received: String,
}

/// One sender (a listener: `http`, `elasticsearch-bulk`, `syslog-udp`…).
#[derive(Debug, Clone, Serialize)]
pub struct SenderHealth {
    pub source: String,
    pub events: u64,
    pub last_received: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourcesHealth {
    /// The floor of every channel's threshold (`--silence-minutes`).
    pub silence_threshold_secs: u64,
    pub senders: Vec<SenderHealth>,
    pub channels: Vec<ChannelHealth>,
    /// Events of hosts or channels first seen once [`MAX_CHANNELS`] were
    /// tracked: counted here, not judged per channel (0 normally).
    pub untracked_events: u64,
}

/// What arrived, per tenant.
#[derive(Debug)]
pub struct Health {
    pub silence_secs: u64,
    tenants: Mutex<BTreeMap<String, Tenant>>,
}

fn stamp(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl Health {
    pub fn new(silence_secs: u64) -> Health {
        Health {
            silence_secs,
            tenants: Mutex::new(BTreeMap::new()),
        }
    }

    /// One event of `tenant` received from `source` at `received` (µs),
    /// dated `time` (µs) if it says.
    pub fn saw(
        &self,
        tenant: &str,
        source: &str,
        received: i64,
        time: Option<i64>,
        host: Option<&str>,
        channel: Option<&str>,
    ) {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if !tenants.contains_key(tenant) {
            tenants.insert(tenant.to_string(), Tenant::default());
        }
        let t = tenants.get_mut(tenant).expect("inserted");
        bump(entry(&mut t.senders, source), received);
        let host = host.unwrap_or("?");
        let channel = channel.unwrap_or("?");
        // Bounded by size as well as by count: no host or channel name
        // is longer (DNS names stop at 253 bytes).
        if host.len() > MAX_NAME || channel.len() > MAX_NAME {
            untracked(tenant, t, "a host or channel name longer than 255 bytes");
            return;
        }
        let full = t.tracked >= MAX_CHANNELS;
        if !t.hosts.contains_key(host) {
            let folded = host_name(host);
            if full || t.hosts.len() >= MAX_CHANNELS {
                // A host tracked under another of its names still counts
                // there (not paged silent while it sends); with room for
                // a channel but none for one more name as written, the
                // host's one name holds it.
                if let Some(seen) = t.channels.get_mut(&folded).and_then(|c| c.get_mut(channel)) {
                    count(seen, received, time);
                } else if !full {
                    t.tracked += 1;
                    count(
                        entry(t.channels.entry(folded).or_default(), channel),
                        received,
                        time,
                    );
                } else {
                    untracked(tenant, t, "the host channels' cap");
                }
                return;
            }
            t.hosts.insert(host.to_string(), folded);
        }
        let folded = &t.hosts[host];
        if !t.channels.contains_key(folded) {
            if full {
                untracked(tenant, t, "the host channels' cap");
                return;
            }
            t.channels.insert(folded.clone(), BTreeMap::new());
        }
        let channels = t.channels.get_mut(folded).expect("inserted");
        if !channels.contains_key(channel) {
            if full {
                untracked(tenant, t, "the host channels' cap");
                return;
            }
            t.tracked += 1;
        }
        count(entry(channels, channel), received, time);
    }

    /// The hosts of `tenant` (every tenant's: `None`) sending events dated
    /// ahead of their receipt, the latest first: at most `max`, and the
    /// count of the others.
    pub fn future_hosts(&self, tenant: Option<&str>, max: usize) -> (Vec<FutureHost>, usize) {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<FutureHost> = Vec::new();
        for (name, t) in tenants
            .iter()
            .filter(|(n, _)| tenant.is_none_or(|x| x == n.as_str()))
        {
            for (host, channels) in &t.channels {
                let mut events = 0;
                let mut last: Option<(i64, i64)> = None;
                for s in channels.values() {
                    events += s.future;
                    if let Some((ahead, at)) = s.future_last {
                        if last.is_none_or(|(_, l)| at > l) {
                            last = Some((ahead, at));
                        }
                    }
                }
                if let Some((ahead, at)) = last {
                    out.push(FutureHost {
                        tenant: name.clone(),
                        host: host.clone(),
                        events_future: events,
                        ahead_secs: (ahead / 1_000_000) as u64,
                        last_received: stamp(at),
                    });
                }
            }
        }
        out.sort_by(|a, b| b.last_received.cmp(&a.last_received));
        let left_out = out.len().saturating_sub(max);
        out.truncate(max);
        (out, left_out)
    }

    /// The health of `tenant`'s sources at `now` (µs).
    pub fn of(&self, tenant: &str, now: i64) -> SourcesHealth {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let empty = Tenant::default();
        let t = tenants.get(tenant).unwrap_or(&empty);
        let quiet = |s: &Seen| ((now - s.last_received).max(0) / 1_000_000) as u64;
        let mut aliases: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (written, host) in &t.hosts {
            aliases.entry(host).or_default().push(written.clone());
        }
        SourcesHealth {
            silence_threshold_secs: self.silence_secs,
            senders: t
                .senders
                .iter()
                .map(|(source, s)| SenderHealth {
                    source: source.clone(),
                    events: s.events,
                    last_received: stamp(s.last_received),
                })
                .collect(),
            channels: t
                .channels
                .iter()
                .flat_map(|(host, channels)| {
                    let mut aliases = aliases.get(host.as_str()).cloned().unwrap_or_default();
                    let aliases_left_out = aliases.len().saturating_sub(ALIASES_SHOWN);
                    aliases.truncate(ALIASES_SHOWN);
                    channels.iter().map(move |(channel, s)| {
                        let gap = s.usual_gap();
                        let usual = gap.map(|g| (g / 1_000_000) as u64);
                        let threshold = usual.map(|g| (g * SILENCE_FACTOR).max(self.silence_secs));
                        // Busy channels: their silence counted in the
                        // hours they usually send in.
                        let in_hours = match (gap, threshold) {
                            (Some(g), Some(t)) if g < HOURLY_GAP_US && quiet(s) > t => {
                                Some((s.silence_in_its_hours(now) / 1_000_000) as u64)
                            }
                            (Some(g), Some(_)) if g < HOURLY_GAP_US => Some(quiet(s)),
                            _ => None,
                        };
                        let silent = threshold.is_some_and(|t| in_hours.unwrap_or(quiet(s)) > t);
                        let quiet_as_usual = !silent && threshold.is_some_and(|t| quiet(s) > t);
                        ChannelHealth {
                            host: host.clone(),
                            aliases: aliases.clone(),
                            aliases_left_out,
                            channel: channel.clone(),
                            events: s.events,
                            last_received: stamp(s.last_received),
                            silent,
                            silent_for_secs: quiet(s),
                            state: match (silent, threshold) {
                                (true, _) => "silent",
                                (false, Some(_)) if quiet_as_usual => "quiet",
                                (false, Some(_)) => "receiving",
                                (false, None) => "rare",
                            },
                            usual_gap_secs: usual,
                            threshold_secs: threshold,
                            silent_in_its_hours_secs: in_hours,
                            events_future: s.future,
                            future_ahead_secs: s.future_last.map(|(a, _)| (a / 1_000_000) as u64),
                            future_last_received: s.future_last.map(|(_, at)| stamp(at)),
                        }
                    })
                })
                .collect(),
            untracked_events: t.untracked,
        }
    }

    pub fn tenants(&self) -> Vec<String> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends on `channel` of `host` every `every` s from `from` s, `n` times.
    fn arrivals(h: &Health, host: &str, channel: &str, from: i64, every: i64, n: i64) {
        for i in 0..n {
            h.saw(
                "c",
                "http",
                (from + i * every) * S,
                None,
                Some(host),
                Some(channel),
            );
        }
    }

    const S: i64 = 1_000_000;

    /// A sender writing a new host name in every event: past the cap the
    /// events are counted together, the channels known stay judged, and
    /// what is held stops growing.
    #[test]
    fn new_host_names_past_the_cap_are_counted_not_kept() {
        let h = Health::new(60);
        arrivals(&h, "DC01", "Security", 0, 2, 6);
        // DC01's Security is tracked already: 10 names past the cap.
        for i in 0..MAX_CHANNELS - 1 + 10 {
            h.saw("c", "http", 20 * S, None, Some(&format!("h{i}")), Some("x"));
        }
        arrivals(&h, "DC01", "Security", 20, 2, 3);
        h.saw("c", "http", 30 * S, None, Some("DC01"), Some("System"));
        let now = h.of("c", 31 * S);
        assert_eq!(now.channels.len(), MAX_CHANNELS);
        // 11: the ten names past the cap and DC01's new channel.
        assert_eq!(now.untracked_events, 11);
        let dc = now
            .channels
            .iter()
            .find(|c| c.host == "DC01" && c.channel == "Security")
            .unwrap();
        assert_eq!(dc.events, 9);
        // Past the cap, a host tracked under another of its names still
        // counts where it is tracked (not paged silent while it sends).
        h.saw(
            "c",
            "http",
            30 * S,
            None,
            Some("dc01.ccpab.local"),
            Some("Security"),
        );
        let now = h.of("c", 31 * S);
        let dc = now
            .channels
            .iter()
            .find(|c| c.host == "DC01" && c.channel == "Security")
            .unwrap();
        assert_eq!((dc.events, now.untracked_events), (10, 11));
        // Another commune has its own room.
        h.saw("d", "http", 30 * S, None, Some("DC01"), Some("Security"));
        assert_eq!(h.of("d", 31 * S).untracked_events, 0);
        // Room for channels but none for one more name as written: the
        // host's one name holds the new channel.
        for i in 0..MAX_CHANNELS {
            h.saw(
                "e",
                "http",
                30 * S,
                None,
                Some(&format!("srv.d{i}")),
                Some("x"),
            );
        }
        h.saw("e", "http", 30 * S, None, Some("srv.other"), Some("y"));
        let e = h.of("e", 31 * S);
        assert_eq!((e.channels.len(), e.untracked_events), (2, 0));
        assert_eq!(e.channels[0].aliases_left_out, MAX_CHANNELS - ALIASES_SHOWN);
        // Names longer than any host's are not kept, whatever the room.
        h.saw("d", "http", 30 * S, None, Some(&"x".repeat(300)), None);
        h.saw(
            "d",
            "http",
            30 * S,
            None,
            Some("DC01"),
            Some(&"y".repeat(256)),
        );
        let d = h.of("d", 31 * S);
        assert_eq!((d.channels.len(), d.untracked_events), (1, 2));
    }

    #[test]
    fn a_channel_that_stops_sending_is_silent() {
        let h = Health::new(60);
        arrivals(&h, "DC01", "Security", 0, 2, 6);
        arrivals(&h, "DC01", "System", 90, 2, 6);
        h.saw("c", "syslog-udp", 100 * S, None, Some("FW01"), None);
        let now = h.of("c", 140 * S);
        let silent: Vec<_> = now.channels.iter().filter(|c| c.silent).collect();
        assert_eq!(silent.len(), 1);
        assert_eq!(
            (silent[0].host.as_str(), silent[0].channel.as_str()),
            ("DC01", "Security")
        );
        assert_eq!(silent[0].silent_for_secs, 130);
        assert_eq!(silent[0].state, "silent");
        // Gaps of 2 s: the floor (60 s) is its threshold.
        assert_eq!(
            (silent[0].usual_gap_secs, silent[0].threshold_secs),
            (Some(2), Some(60))
        );
        // FW01 sent once: too rarely seen to judge.
        let fw = now.channels.iter().find(|c| c.host == "FW01").unwrap();
        assert_eq!(
            (fw.state, fw.silent, fw.threshold_secs),
            ("rare", false, None)
        );
        assert_eq!(now.senders.len(), 2);
        assert_eq!(now.senders[0].events, 12);
        // Another tenant's sources are not this one's.
        assert!(h.of("other", 130 * S).channels.is_empty());
    }

    /// A channel that logs a few events a day is silent only past three
    /// times its longest usual gap; a busy one on the same host at the
    /// floor; one host however its name is written.
    #[test]
    fn a_quiet_channel_is_judged_on_its_own_rhythm() {
        let h = Health::new(3600);
        let day = 86_400;
        // Every 8 hours for 3 days, written two ways.
        for i in 0..10 {
            let host = if i % 2 == 0 {
                "SRV-PS"
            } else {
                "srv-ps.ccpab.local"
            };
            h.saw(
                "c",
                "http",
                i * 8 * 3600 * S,
                None,
                Some(host),
                Some("PowerShell/Operational"),
            );
        }
        arrivals(&h, "srv-ps", "Security", 3 * day, 10, 20);
        let last = 9 * 8 * 3600;
        // Twelve hours after the last PowerShell event: still usual.
        let at = h.of("c", (last + 12 * 3600) * S);
        assert_eq!(at.channels.len(), 2, "{:?}", at.channels);
        let ps = at
            .channels
            .iter()
            .find(|c| c.channel.starts_with("Power"))
            .unwrap();
        assert_eq!(ps.host, "SRV-PS");
        assert_eq!(ps.aliases, ["SRV-PS", "srv-ps", "srv-ps.ccpab.local"]);
        assert_eq!(ps.events, 10);
        assert_eq!(
            (ps.state, ps.threshold_secs),
            ("receiving", Some(3 * 8 * 3600))
        );
        let sec = at
            .channels
            .iter()
            .find(|c| c.channel == "Security")
            .unwrap();
        assert_eq!((sec.state, sec.threshold_secs), ("silent", Some(3600)));
        // Past 24 h: silent too.
        let at = h.of("c", (last + 24 * 3600 + 1) * S);
        assert!(at.channels.iter().all(|c| c.silent), "{:?}", at.channels);
    }

    /// Events observed out of their order of receipt (a rebuild after a
    /// crash) give the same rhythm as in order.
    #[test]
    fn the_rhythm_does_not_depend_on_the_order_seen() {
        let (a, b) = (Health::new(60), Health::new(60));
        let times = [0, 10, 20, 30, 40, 50, 50, 120];
        for t in times {
            a.saw("c", "http", t * S, None, Some("PC-1"), Some("Security"));
        }
        for t in times.iter().rev() {
            b.saw("c", "http", t * S, None, Some("PC-1"), Some("Security"));
        }
        let (a, b) = (a.of("c", 200 * S), b.of("c", 200 * S));
        assert_eq!(a.channels[0].usual_gap_secs, Some(70));
        assert_eq!(b.channels[0].usual_gap_secs, Some(70));
        assert_eq!(a.channels[0].events, 8);
    }

    /// A town-hall workstation's Security log: an event a minute from
    /// 07:00 to 20:00 on working days, nothing at night nor at weekends.
    /// Its first night it is paged (nothing known of its hours yet); then
    /// its nights and weekends are `quiet`, never silent — and stopped at
    /// 10:00 on a working day it is silent past the floor, as before.
    #[test]
    fn a_busy_daytime_channel_is_quiet_at_night_and_silent_by_day() {
        const H: i64 = 3600;
        let day = 86_400;
        // 2026-11-30 is a Monday (00:00 UTC).
        let monday = 1_764_460_800;
        let work = |h: &Health, d: i64, until_h: i64| {
            for m in 0..(until_h - 7) * 60 {
                h.saw(
                    "c",
                    "http",
                    (monday + d * day + 7 * H + m * 60) * S,
                    None,
                    Some("PC-ACCUEIL"),
                    Some("Security"),
                );
            }
        };
        let state = |h: &Health, at: i64| {
            let c = h.of("c", at * S).channels[0].clone();
            (c.state, c.silent)
        };
        let h = Health::new(3600);
        work(&h, 0, 20);
        // Monday 21:30, its first night: nothing known, paged once.
        assert_eq!(state(&h, monday + 21 * H + 1800), ("silent", true));
        for d in 1..5 {
            work(&h, d, 20);
        }
        // Friday 23:00: a night it is quiet in, as the night before.
        let c = h.of("c", (monday + 4 * day + 23 * H) * S).channels[0].clone();
        assert_eq!((c.state, c.silent), ("quiet", false), "{c:?}");
        assert_eq!(c.silent_for_secs, 3 * H as u64 + 60);
        assert!(c.silent_in_its_hours_secs.unwrap() < 3600, "{c:?}");
        // Its first Saturday noon compares with Friday (the week is not
        // known yet): paged; the next weekend is known.
        assert_eq!(state(&h, monday + 5 * day + 12 * H), ("silent", true));
        for d in 7..12 {
            work(&h, d, 20);
        }
        for at in [
            monday + 11 * day + 22 * H,       // Friday night
            monday + 12 * day + 12 * H,       // Saturday noon
            monday + 13 * day + 23 * H,       // Sunday night
            monday + 14 * day + 7 * H + 1800, // Monday 07:30, a slow start
        ] {
            assert_eq!(state(&h, at), ("quiet", false), "at {at}");
        }
        // A Monday stopped at 10:00 (the logging cut): silent past the
        // floor in its hours.
        work(&h, 14, 10);
        assert_eq!(
            state(&h, monday + 14 * day + 10 * H + 1800),
            ("receiving", false)
        );
        assert_eq!(state(&h, monday + 14 * day + 11 * H + 60), ("silent", true));
        // A day that ends an hour earlier than last week's is no silence.
        work(&h, 15, 19);
        assert_eq!(state(&h, monday + 15 * day + 21 * H), ("quiet", false));
    }

    /// Events dated ahead of their receipt: counted on their channel and
    /// host, with the lead of the latest; on time ones (within 5 min) not.
    #[test]
    fn events_dated_ahead_are_counted_with_their_host() {
        let h = Health::new(60);
        let at = 1_764_460_800 * S;
        h.saw(
            "c",
            "http",
            at,
            Some(at + 240 * S),
            Some("PC-1"),
            Some("Security"),
        );
        h.saw(
            "c",
            "http",
            at,
            Some(at + 7200 * S),
            Some("pc-2.ccpab.local"),
            Some("Security"),
        );
        h.saw(
            "c",
            "http",
            at + S,
            Some(at + 3 * 3600 * S),
            Some("PC-2"),
            Some("System"),
        );
        h.saw(
            "d",
            "http",
            at,
            Some(at + 7200 * S),
            Some("PC-9"),
            Some("Security"),
        );
        let (hosts, left) = h.future_hosts(Some("c"), 10);
        assert_eq!(left, 0);
        assert_eq!(hosts.len(), 1, "{hosts:?}");
        assert_eq!(
            (hosts[0].host.as_str(), hosts[0].events_future),
            ("PC-2", 2)
        );
        assert_eq!(hosts[0].ahead_secs, 3 * 3600 - 1);
        let c = h.of("c", at);
        let pc1 = c.channels.iter().find(|c| c.host == "PC-1").unwrap();
        assert_eq!((pc1.events_future, pc1.future_ahead_secs), (0, None));
        let (all, _) = h.future_hosts(None, 10);
        assert_eq!(all.len(), 2);
        let (one, left) = h.future_hosts(None, 1);
        assert_eq!((one.len(), left), (1, 1));
    }
}
