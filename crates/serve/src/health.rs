//! Sources health: per sender and per host and channel, what arrived and
//! when — and which went silent.
//!
//! Why on receipt time and not event time: the attacker who stops the
//! logging (service stopped, audit policy changed, agent removed) stops
//! what *arrives*; a host's clock may be wrong, its events may come in
//! late batches, but silence on the wire is what says "we are blind
//! here". The event-time view (gaps between records, record-id holes,
//! cleared logs) is the scope's coverage, given beside it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Default: a channel that sent nothing for this long is silent.
pub const SILENCE_SECS: u64 = 3600;

#[derive(Debug, Clone, Default)]
struct Seen {
    events: u64,
    /// Time of receipt of the last event (UTC, µs).
    last_received: i64,
}

#[derive(Debug, Default)]
struct Tenant {
    senders: BTreeMap<String, Seen>,
    /// Host as written (case folded when read out) → channel → seen:
    /// looked up with the event's own strings, no allocation per event.
    channels: BTreeMap<String, BTreeMap<String, Seen>>,
}

fn bump(s: &mut Seen, received: i64) {
    s.events += 1;
    s.last_received = s.last_received.max(received);
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
    pub host: String,
    pub channel: String,
    pub events: u64,
    pub last_received: String,
    /// Nothing received for longer than the threshold.
    pub silent: bool,
    pub silent_for_secs: u64,
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
        if !t.channels.contains_key(host) {
            t.channels.insert(host.to_string(), BTreeMap::new());
        }
        let channels = t.channels.get_mut(host).expect("inserted");
        bump(entry(channels, channel.unwrap_or("?")), received);
    }

    /// The health of `tenant`'s sources at `now` (µs).
    pub fn of(&self, tenant: &str, now: i64) -> SourcesHealth {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let empty = Tenant::default();
        let t = tenants.get(tenant).unwrap_or(&empty);
        let quiet = |s: &Seen| ((now - s.last_received).max(0) / 1_000_000) as u64;
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
            channels: {
                // One host however its name was written.
                let mut folded: BTreeMap<(String, &str), Seen> = BTreeMap::new();
                for (host, channels) in &t.channels {
                    for (channel, s) in channels {
                        let f = folded
                            .entry((host.to_ascii_lowercase(), channel.as_str()))
                            .or_default();
                        f.events += s.events;
                        f.last_received = f.last_received.max(s.last_received);
                    }
                }
                folded
                    .into_iter()
                    .map(|((host, channel), s)| ChannelHealth {
                        host,
                        channel: channel.to_string(),
                        events: s.events,
                        last_received: stamp(s.last_received),
                        silent: quiet(&s) > self.silence_secs,
                        silent_for_secs: quiet(&s),
                    })
                    .collect()
            },
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

    #[test]
    fn a_channel_that_stops_sending_is_silent() {
        let h = Health::new(60);
        let s = 1_000_000i64;
        h.saw("c", "http", 0, Some("DC01"), Some("Security"));
        h.saw("c", "http", 100 * s, Some("DC01"), Some("System"));
        h.saw("c", "syslog-udp", 100 * s, Some("FW01"), None);
        let now = h.of("c", 130 * s);
        let silent: Vec<_> = now.channels.iter().filter(|c| c.silent).collect();
        assert_eq!(silent.len(), 1);
        assert_eq!(
            (silent[0].host.as_str(), silent[0].channel.as_str()),
            ("dc01", "Security")
        );
        assert_eq!(silent[0].silent_for_secs, 130);
        assert_eq!(now.senders.len(), 2);
        assert_eq!(now.senders[0].events, 2);
        // Another tenant's sources are not this one's.
        assert!(h.of("other", 130 * s).channels.is_empty());
    }
}
