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
}

impl Seen {
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
}

fn bump(s: &mut Seen, received: i64) {
    s.events += 1;
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
    /// Its names as the events wrote them (`dc01.ccpab.local`, `DC01`).
    pub aliases: Vec<String>,
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

    /// One event of `tenant` received from `source` at `received` (µs).
    pub fn saw(
        &self,
        tenant: &str,
        source: &str,
        received: i64,
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
        if !t.hosts.contains_key(host) {
            t.hosts.insert(host.to_string(), host_name(host));
        }
        let folded = &t.hosts[host];
        if !t.channels.contains_key(folded) {
            t.channels.insert(folded.clone(), BTreeMap::new());
        }
        let channels = t.channels.get_mut(folded).expect("inserted");
        bump(entry(channels, channel.unwrap_or("?")), received);
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
                    let aliases = aliases.get(host.as_str()).cloned().unwrap_or_default();
                    channels.iter().map(move |(channel, s)| {
                        let usual = s.usual_gap().map(|g| (g / 1_000_000) as u64);
                        let threshold = usual.map(|g| (g * SILENCE_FACTOR).max(self.silence_secs));
                        let silent = threshold.is_some_and(|t| quiet(s) > t);
                        ChannelHealth {
                            host: host.clone(),
                            aliases: aliases.clone(),
                            channel: channel.clone(),
                            events: s.events,
                            last_received: stamp(s.last_received),
                            silent,
                            silent_for_secs: quiet(s),
                            state: match (silent, threshold) {
                                (true, _) => "silent",
                                (false, Some(_)) => "receiving",
                                (false, None) => "rare",
                            },
                            usual_gap_secs: usual,
                            threshold_secs: threshold,
                        }
                    })
                })
                .collect(),
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
                Some(host),
                Some(channel),
            );
        }
    }

    const S: i64 = 1_000_000;

    #[test]
    fn a_channel_that_stops_sending_is_silent() {
        let h = Health::new(60);
        arrivals(&h, "DC01", "Security", 0, 2, 6);
        arrivals(&h, "DC01", "System", 90, 2, 6);
        h.saw("c", "syslog-udp", 100 * S, Some("FW01"), None);
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
            a.saw("c", "http", t * S, Some("PC-1"), Some("Security"));
        }
        for t in times.iter().rev() {
            b.saw("c", "http", t * S, Some("PC-1"), Some("Security"));
        }
        let (a, b) = (a.of("c", 200 * S), b.of("c", 200 * S));
        assert_eq!(a.channels[0].usual_gap_secs, Some(70));
        assert_eq!(b.channels[0].usual_gap_secs, Some(70));
        assert_eq!(a.channels[0].events, 8);
    }
}
