//! Syslog listeners: UDP (RFC 3164 / 5424, one message per datagram) and
//! TCP (RFC 6587: octet counting or LF framing, told per message by its
//! first byte), as firewalls (FortiGate, Stormshield) and rsyslog send.
//!
//! Why batches: each message is durable before more is read (TCP: the
//! sender's own buffering takes over while the log syncs; that is the
//! backpressure), and messages arriving together share one `fsync`.
//! Syslog carries no credentials: the listeners are off unless asked for,
//! and are meant for the internal interface the firewall sends on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use vigie_store::{EventLog, IngestBatch};

/// Messages sent together share one append, up to this many…
const BATCH: usize = 1000;
/// …and up to about this many bytes.
const BATCH_BYTES: usize = 4 << 20;
/// What one read of a TCP connection takes at most. The messages it holds
/// whole share one append (one frame, one `fsync`): with 64 KiB a busy
/// sender's messages were appended some sixty at a time, frames too small
/// for Zstandard to find what events repeat (syslog TCP in event-time
/// order wrote 102 MB per million events). The buffer is allocated
/// zeroed at the connection's start (tokio's `BufReader`), so the
/// [`MAX_CONNECTIONS`] connections hold at most 64 MiB of it.
const READ_BUFFER: usize = 1 << 18;
/// TCP connections served at once, at most: each holds a read buffer
/// and a batch. Firewalls and relays keep one or a few; past this, a new
/// connection is closed at once (counted).
pub const MAX_CONNECTIONS: usize = 256;
/// A TCP connection silent this long is closed: idle connections must not
/// hold the [`MAX_CONNECTIONS`] slots (senders reconnect when they have
/// something to say).
pub const IDLE: std::time::Duration = std::time::Duration::from_secs(300);
/// Digits of an octet count, at most (RFC 6587: a message length).
const COUNT_DIGITS: u64 = 10;

/// Counts of what the listeners could not keep.
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// Syslog messages longer than the limit, or cut by a closed
    /// connection.
    pub refused: AtomicU64,
    /// NDJSON lines (the NDJSON TCP and TLS listeners) longer than the
    /// limit, or cut by a closed connection: their own count (they are
    /// not syslog).
    pub ndjson_refused: AtomicU64,
    /// Messages not stored because the log failed.
    pub lost: AtomicU64,
    /// The UDP listeners' sockets (their inodes), whose datagrams the
    /// kernel dropped (receive buffer full) are read from
    /// `/proc/net/udp{,6}`: see [`SyslogStats::lost_now`].
    pub udp_sockets: std::sync::Mutex<Vec<u64>>,
    /// TCP connections closed at once: [`MAX_CONNECTIONS`] were open.
    pub connections_refused: AtomicU64,
    /// TCP connections closed after [`IDLE`] without a byte.
    pub idle_closed: AtomicU64,
    /// TLS connections refused: no client certificate, one not signed by
    /// the client CA, a failed or unfinished handshake.
    pub tls_refused: AtomicU64,
}

impl SyslogStats {
    /// Messages lost: those the log failed to store, and the datagrams the
    /// kernel dropped on a UDP listener's socket because its receive
    /// buffer was full — arrived faster than they were read; without
    /// them, 3,520 of 5,000 lines sent in a second were lost with
    /// `syslog_lost` 0.
    pub fn lost_now(&self) -> u64 {
        let inodes = self
            .udp_sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.lost.load(Ordering::Relaxed) + kernel_drops(&inodes)
    }
}

/// The `drops` of these sockets in `/proc/net/udp` and `/proc/net/udp6`
/// (0 where it cannot be read: not Linux).
fn kernel_drops(inodes: &[u64]) -> u64 {
    if inodes.is_empty() {
        return 0;
    }
    let mut n = 0;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref
            // pointer drops
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(inode), Some(drops)) = (cols.get(9), cols.get(12)) else {
                continue;
            };
            if inode.parse::<u64>().is_ok_and(|i| inodes.contains(&i)) {
                n += drops.parse::<u64>().unwrap_or(0);
            }
        }
    }
    n
}

/// What the UDP listener asks of the kernel for its receive buffer: a
/// burst of a firewall (thousands of lines in a second) waits there while
/// a batch is stored. The kernel caps it at `net.core.rmem_max` (about
/// 208 KiB by default): the size got is said at start.
pub const UDP_RECEIVE_BUFFER: usize = 16 << 20;

/// The socket's inode (`/proc/self/fd/N` → `socket:[INODE]`).
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

async fn store(
    log: &dyn EventLog,
    tenant: &str,
    source: &str,
    events: Vec<Vec<u8>>,
    stats: &SyslogStats,
) {
    if events.is_empty() {
        return;
    }
    let n = events.len() as u64;
    let batch = IngestBatch {
        tenant: tenant.into(),
        source: source.into(),
        received: chrono::Utc::now().timestamp_micros(),
        events,
    };
    if let Err(e) = log.append(batch).await {
        stats.lost.fetch_add(n, Ordering::Relaxed);
        eprintln!("vigie serve: {source}: {n} message(s) not stored: {e}");
    }
}

fn trim(mut m: &[u8]) -> &[u8] {
    while let Some((&last, rest)) = m.split_last() {
        if last == b'\n' || last == b'\r' || last == 0 {
            m = rest;
        } else {
            break;
        }
    }
    m
}

/// Binds the UDP listener; returns its address and the task serving it.
pub async fn udp(
    addr: SocketAddr,
    log: Arc<dyn EventLog>,
    stats: Arc<SyslogStats>,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let raw = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // As large as the kernel allows; refused or capped, the socket still
    // serves with what it got (said).
    let _ = raw.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    raw.bind(&addr.into())?;
    raw.set_nonblocking(true)?;
    let got = raw.recv_buffer_size().unwrap_or(0);
    let socket = UdpSocket::from_std(std::net::UdpSocket::from(raw))?;
    let local = socket.local_addr()?;
    eprintln!(
        "vigie serve: UDP syslog receive buffer {got} bytes (asked {UDP_RECEIVE_BUFFER}; the kernel's net.core.rmem_max caps it); datagrams it drops when full count in syslog_lost"
    );
    if let Some(inode) = socket_inode(&socket) {
        stats
            .udp_sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(inode);
    }
    let task = async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let mut events = vec![trim(&buf[..n]).to_vec()];
            let mut bytes = n;
            // What arrived meanwhile joins this append.
            while events.len() < BATCH && bytes < BATCH_BYTES {
                match socket.try_recv_from(&mut buf) {
                    Ok((n, _)) => {
                        bytes += n;
                        events.push(trim(&buf[..n]).to_vec())
                    }
                    Err(_) => break,
                }
            }
            events.retain(|e| !e.is_empty());
            store(log.as_ref(), "default", "syslog-udp", events, &stats).await;
        }
    };
    Ok((local, task))
}

/// How long a TLS sender has to finish its handshake.
pub const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);
/// TLS handshakes in progress at once, at most. A connection takes one of
/// the [`MAX_CONNECTIONS`] slots only once its handshake succeeded (its
/// certificate verified): strangers that connect and say nothing fill
/// these, never the certified senders' slots.
pub const HANDSHAKES: usize = 64;
/// TLS handshakes in progress at once from one address, at most: one
/// stranger cannot take the [`HANDSHAKES`] from the firewalls.
pub const HANDSHAKES_PER_PEER: usize = 4;

/// Handshakes under way per address (released when dropped).
#[derive(Default)]
struct Shaking(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

struct ShakeTurn(Arc<Shaking>, std::net::IpAddr);

impl Shaking {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<ShakeTurn> {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = m.entry(ip).or_default();
        if *n >= HANDSHAKES_PER_PEER {
            return None;
        }
        *n += 1;
        Some(ShakeTurn(self.clone(), ip))
    }
}

impl Drop for ShakeTurn {
    fn drop(&mut self) {
        let mut m = (self.0).0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Binds a TCP listener; returns its address and the task serving it.
/// `source` names what it receives: `syslog-tcp`, or `ndjson-tcp` (JSON
/// Lines as NXLog's `om_tcp` with `to_json()` and OpenWEC's TCP output
/// send them: LF framing, which the same reader tells apart); with
/// `tls`, `syslog-tls` (RFC 5425: octet counting inside TLS) or
/// `ndjson-tls` (NXLog's `om_ssl`). A sender authenticated by its client
/// certificate is named by it: `syslog-tls/fw-mairie`, so the sources
/// page tells senders apart.
pub async fn tcp(
    addr: SocketAddr,
    log: Arc<dyn EventLog>,
    stats: Arc<SyslogStats>,
    max_message: usize,
    source: &'static str,
    tls: Option<Arc<crate::tls::Senders>>,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let shaking = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES));
    let per_peer = Arc::new(Shaking::default());
    let task = async move {
        let refuse = |stats: &SyslogStats, peer: SocketAddr, what: &str| {
            stats.connections_refused.fetch_add(1, Ordering::Relaxed);
            eprintln!("vigie serve: {source}: {what}, {peer} refused");
        };
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let Some(tls) = tls.clone() else {
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    refuse(&stats, peer, &format!("{MAX_CONNECTIONS} connections open"));
                    continue;
                };
                let (log, stats) = (log.clone(), stats.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    let (tenant, source) = ("default".to_string(), source.to_string());
                    connection(stream, log, stats, max_message, tenant, source, None).await
                });
                continue;
            };
            let Some(turn) = per_peer.take(peer.ip()) else {
                refuse(
                    &stats,
                    peer,
                    &format!("{HANDSHAKES_PER_PEER} TLS handshakes under way from its address"),
                );
                continue;
            };
            let Ok(shake_slot) = shaking.clone().try_acquire_owned() else {
                refuse(
                    &stats,
                    peer,
                    &format!("{HANDSHAKES} TLS handshakes under way"),
                );
                continue;
            };
            let (log, stats, slots) = (log.clone(), stats.clone(), slots.clone());
            tokio::spawn(async move {
                let shake = tokio::time::timeout(HANDSHAKE, tls.acceptor().accept(stream)).await;
                drop((shake_slot, turn));
                let stream = match shake {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        stats.tls_refused.fetch_add(1, Ordering::Relaxed);
                        eprintln!("vigie serve: {source}: TLS with {peer} refused: {e}");
                        return;
                    }
                    Err(_) => {
                        stats.tls_refused.fetch_add(1, Ordering::Relaxed);
                        eprintln!(
                            "vigie serve: {source}: {peer} did not finish its TLS handshake in {} s",
                            HANDSHAKE.as_secs()
                        );
                        return;
                    }
                };
                let sender = crate::tls::peer(stream.get_ref().1);
                let tenant = match tls.tenant_of(sender.as_ref()) {
                    Ok(t) => t,
                    Err(why) => {
                        stats.tls_refused.fetch_add(1, Ordering::Relaxed);
                        eprintln!("vigie serve: {source}: {peer} refused: {why}");
                        return;
                    }
                };
                let name = match &sender {
                    Some(p) => format!("{source}/{}", p.name),
                    None => source.to_string(),
                };
                let Ok(_slot) = slots.try_acquire_owned() else {
                    stats.connections_refused.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "vigie serve: {source}: {MAX_CONNECTIONS} connections open, {name} from {peer} refused"
                    );
                    return;
                };
                let recheck = sender.map(|p| Recheck {
                    senders: tls.clone(),
                    generation: tls.generation(),
                    peer: p,
                });
                connection(stream, log, stats, max_message, tenant, name, recheck).await
            });
        }
    };
    Ok((local, task))
}

/// A TLS sender's certificate, checked again when the certificates were
/// read again since it connected.
struct Recheck {
    senders: Arc<crate::tls::Senders>,
    generation: u64,
    peer: crate::tls::Peer,
}

impl Recheck {
    /// Why the sender is no longer trusted, if it is not (checked once
    /// per reload).
    fn revoked(&mut self) -> Option<String> {
        let now = self.senders.generation();
        if now == self.generation {
            return None;
        }
        self.generation = now;
        self.senders.still_trusted(&self.peer).err()
    }
}

/// Reads one connection's messages and stores them in batches, until it
/// ends or stays silent for [`IDLE`]. A TLS sender whose certificate a
/// reload revoked is cut before its next message is kept (what it sent
/// before the reload is kept: it was trusted then).
async fn connection<S: tokio::io::AsyncRead + Unpin>(
    stream: S,
    log: Arc<dyn EventLog>,
    stats: Arc<SyslogStats>,
    max_message: usize,
    tenant: String,
    source: String,
    mut recheck: Option<Recheck>,
) {
    let mut r = BufReader::with_capacity(READ_BUFFER, stream);
    let refused = if source.starts_with("ndjson") {
        &stats.ndjson_refused
    } else {
        &stats.refused
    };
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut ended = false;
    loop {
        let next = tokio::time::timeout(IDLE, next_message(&mut r, max_message));
        let Ok(next) = next.await else {
            // Silent for IDLE: the slot goes to others (what was half
            // sent is counted refused).
            stats.idle_closed.fetch_add(1, Ordering::Relaxed);
            if !r.buffer().is_empty() {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            let batch = std::mem::take(&mut events);
            store(log.as_ref(), &tenant, &source, batch, &stats).await;
            return;
        };
        if let Some(why) = recheck.as_mut().and_then(Recheck::revoked) {
            stats.tls_refused.fetch_add(1, Ordering::Relaxed);
            if matches!(next, Ok(Some(_))) {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            eprintln!("vigie serve: {source}: no longer trusted since the reload, cut: {why}");
            let batch = std::mem::take(&mut events);
            store(log.as_ref(), &tenant, &source, batch, &stats).await;
            return;
        }
        match next {
            Ok(Some(Ok(m))) => {
                if !m.is_empty() {
                    bytes += m.len();
                    events.push(m);
                }
            }
            Ok(Some(Err(()))) => {
                refused.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) | Err(_) => ended = true,
        }
        // Store when no whole message more is waiting (so a message is
        // never held while the next one trickles in), the batch is full,
        // or the connection ended.
        if ended || events.len() >= BATCH || bytes >= BATCH_BYTES || !whole_waiting(r.buffer()) {
            bytes = 0;
            let batch = std::mem::take(&mut events);
            store(log.as_ref(), &tenant, &source, batch, &stats).await;
        }
        if ended {
            return;
        }
    }
}

/// Whether `buf` (what is read and not taken yet) holds a whole message:
/// with octet counting (RFC 6587, how FortiGate and rsyslog send in
/// reliable mode) its count and that many bytes; otherwise a line's end.
/// Messages waiting join the batch being made, so a busy sender's
/// messages share one append (and one `fsync`) instead of one each.
fn whole_waiting(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|b| !matches!(b, b'\n' | b'\r' | b' '))
        .unwrap_or(buf.len());
    let buf = &buf[start..];
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && digits <= COUNT_DIGITS as usize && buf.get(digits) == Some(&b' ') {
        let len: usize = std::str::from_utf8(&buf[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(usize::MAX);
        return buf.len() - digits > len;
    }
    buf.contains(&b'\n')
}

/// The next message of a TCP stream: `None` at its end, `Some(Err(()))`
/// for one refused (too long: skipped whole).
///
/// RFC 6587 tells the framing by the first bytes: digits then a space is
/// an octet count; anything else is a line. Every read is bounded: the
/// count by [`COUNT_DIGITS`], a line by `max` (its excess is skipped, not
/// kept), so no sender can make a connection hold more than `max` bytes.
async fn next_message<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<Result<Vec<u8>, ()>>> {
    loop {
        let buf = r.fill_buf().await?;
        match buf.first() {
            None => return Ok(None),
            // Blank lines between messages.
            Some(b'\n' | b'\r' | b' ') => r.consume(1),
            Some(_) => break,
        }
    }
    // The leading digits, read across buffer refills.
    let mut digits = Vec::new();
    let next = loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            break None;
        }
        let room = COUNT_DIGITS as usize + 1 - digits.len();
        let d = buf
            .iter()
            .take(room)
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = buf.get(d).copied();
        digits.extend_from_slice(&buf[..d]);
        r.consume(d);
        if digits.len() > COUNT_DIGITS as usize {
            break None;
        }
        if after.is_some() {
            break after;
        }
    };
    if next == Some(b' ') && !digits.is_empty() && digits.len() <= COUNT_DIGITS as usize {
        r.consume(1);
        let len: usize = std::str::from_utf8(&digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        if len > max {
            // Skipped whole, the stream stays in step.
            let mut skip = (&mut *r).take(len as u64);
            tokio::io::copy(&mut skip, &mut tokio::io::sink()).await?;
            return Ok(Some(Err(())));
        }
        let mut m = vec![0u8; len];
        r.read_exact(&mut m).await?;
        // Trimmed in place: a copy per message was one more allocation
        // per event taken.
        m.truncate(trim(&m).len());
        return Ok(Some(Ok(m)));
    }
    // A line (which may start with digits).
    let mut m = digits;
    let room = (max + 1).saturating_sub(m.len()) as u64;
    (&mut *r).take(room).read_until(b'\n', &mut m).await?;
    if m.len() > max && !m.ends_with(b"\n") {
        // Too long: drop the rest of the line.
        skip_line(r).await?;
        return Ok(Some(Err(())));
    }
    m.truncate(trim(&m).len());
    Ok(Some(Ok(m)))
}

/// Drops the rest of a line without keeping it: a line without end
/// takes no memory, only time (the sender's).
async fn skip_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<()> {
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of `stream`, read through a buffer of `capacity`
    /// bytes (small, so that counts and lines straddle refills).
    async fn messages(stream: &[u8], capacity: usize, max: usize) -> Vec<Result<String, ()>> {
        let mut r = BufReader::with_capacity(capacity, stream);
        let mut out = Vec::new();
        while let Some(m) = next_message(&mut r, max).await.unwrap() {
            out.push(m.map(|m| String::from_utf8(m).unwrap()));
        }
        out
    }

    #[test]
    fn a_whole_message_waiting_is_told_for_both_framings() {
        assert!(whole_waiting(b"5 hello"));
        assert!(whole_waiting(b"\n5 hello3 abc"));
        assert!(!whole_waiting(b"5 hell"));
        assert!(!whole_waiting(b"12"));
        assert!(whole_waiting(b"<13>Jan 1 a b\n"));
        assert!(!whole_waiting(b"<13>Jan 1 a b"));
        assert!(!whole_waiting(b""));
        // Digits without a space after them: a line, told by its end (as
        // next_message reads it).
        assert!(whole_waiting(b"2026\nnext"));
        assert!(!whole_waiting(b"2026"));
    }

    #[tokio::test]
    async fn framing_is_told_by_digits_then_a_space() {
        let stream = b"5 hello14 <13>Jan 1 a b\n2026\nnext line\n123456789012345 long digits\n";
        for capacity in [1, 2, 3, 7, 64] {
            assert_eq!(
                messages(stream, capacity, 100).await,
                vec![
                    Ok("hello".to_string()),
                    Ok("<13>Jan 1 a b".to_string()),
                    Ok("2026".to_string()),
                    Ok("next line".to_string()),
                    Ok("123456789012345 long digits".to_string()),
                ],
                "buffer of {capacity}"
            );
        }
    }

    #[tokio::test]
    async fn too_long_messages_are_skipped_whole_and_the_stream_stays_in_step() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"ok 1\n");
        stream.extend_from_slice(&vec![b'x'; 5000]);
        stream.extend_from_slice(b"\n");
        stream.extend_from_slice(b"300 ");
        stream.extend_from_slice(&vec![b'y'; 300]);
        stream.extend_from_slice(b"4 ok 2");
        // Digits then a newline: a line, not a count.
        stream.extend_from_slice(b"99999999999999999999\nok 3\n");
        // A line without end, longer than the limit: refused, not kept.
        stream.extend_from_slice(&vec![b'z'; 5000]);
        assert_eq!(
            messages(&stream, 64, 100).await,
            vec![
                Ok("ok 1".to_string()),
                Err(()),
                Err(()),
                Ok("ok 2".to_string()),
                Ok("99999999999999999999".to_string()),
                Ok("ok 3".to_string()),
                Err(()),
            ]
        );
    }
}

#[cfg(test)]
mod tls_tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// Strangers that connect to the TLS listener and say nothing hold
    /// at most [`HANDSHAKES_PER_PEER`] handshakes from their address: the
    /// next is refused at once (counted), and a sender from another
    /// address finishes its handshake and is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn silent_strangers_do_not_take_the_senders_handshakes() {
        let dir = tempfile::tempdir().unwrap();
        let ready = crate::tls::prepare(
            &crate::tls::Tls::SelfSigned,
            dir.path(),
            vec!["localhost".into()],
        )
        .unwrap()
        .unwrap();
        let listening = crate::tls::acceptor(&ready, None, None).unwrap();
        let senders = Arc::new(crate::tls::Senders::new(listening, Default::default()));
        let (log, _) =
            vigie_store::embedded::FileLog::open(dir.path(), vigie_store::embedded::SEGMENT_BYTES)
                .unwrap();
        let log: Arc<dyn EventLog> = Arc::new(log);
        let stats = Arc::new(SyslogStats::default());
        let (at, task) = tcp(
            "127.0.0.1:0".parse().unwrap(),
            log.clone(),
            stats.clone(),
            1 << 20,
            "syslog-tls",
            Some(senders),
        )
        .await
        .unwrap();
        tokio::spawn(task);
        let mut strangers = Vec::new();
        for _ in 0..HANDSHAKES_PER_PEER {
            strangers.push(tokio::net::TcpStream::connect(at).await.unwrap());
        }
        let mut refused = tokio::net::TcpStream::connect(at).await.unwrap();
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut byte))
            .await
            .expect("closed at once")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed without a handshake");
        assert_eq!(stats.connections_refused.load(Ordering::Relaxed), 1);

        // A sender from another address of the machine.
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for c in rustls::pki_types::CertificateDer::pem_file_iter(&ready.cert).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let tcp = socket.connect(at).await.unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .expect("a handshake despite the strangers");
        let m = b"<13>Dec  5 10:00:00 fw01 still heard";
        tls.write_all(format!("{} ", m.len()).as_bytes())
            .await
            .unwrap();
        tls.write_all(m).await.unwrap();
        tls.shutdown().await.unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while log.records().await.unwrap() < 1 {
            assert!(std::time::Instant::now() < until, "not stored");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(strangers);
    }
}
