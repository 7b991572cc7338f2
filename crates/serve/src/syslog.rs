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

/// Messages sent together share one append, up to this many.
const BATCH: usize = 1000;

/// Counts of what the listeners could not keep.
#[derive(Debug, Default)]
pub struct SyslogStats {
    /// Messages longer than the limit, or cut by a closed connection.
    pub refused: AtomicU64,
    /// Messages not stored because the log failed.
    pub lost: AtomicU64,
}

async fn store(log: &dyn EventLog, source: &str, events: Vec<Vec<u8>>, stats: &SyslogStats) {
    if events.is_empty() {
        return;
    }
    let n = events.len() as u64;
    let batch = IngestBatch {
        tenant: "default".into(),
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
    let socket = UdpSocket::bind(addr).await?;
    let local = socket.local_addr()?;
    let task = async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, _peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let mut events = vec![trim(&buf[..n]).to_vec()];
            // What arrived meanwhile joins this append.
            while events.len() < BATCH {
                match socket.try_recv_from(&mut buf) {
                    Ok((n, _)) => events.push(trim(&buf[..n]).to_vec()),
                    Err(_) => break,
                }
            }
            events.retain(|e| !e.is_empty());
            store(log.as_ref(), "syslog-udp", events, &stats).await;
        }
    };
    Ok((local, task))
}

/// Binds the TCP listener; returns its address and the task serving it.
pub async fn tcp(
    addr: SocketAddr,
    log: Arc<dyn EventLog>,
    stats: Arc<SyslogStats>,
    max_message: usize,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = async move {
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                continue;
            };
            let (log, stats) = (log.clone(), stats.clone());
            tokio::spawn(async move {
                let mut r = BufReader::with_capacity(1 << 16, stream);
                let mut events = Vec::new();
                let mut ended = false;
                loop {
                    match next_message(&mut r, max_message).await {
                        Ok(Some(Ok(m))) => {
                            if !m.is_empty() {
                                events.push(m);
                            }
                        }
                        Ok(Some(Err(()))) => {
                            stats.refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(None) | Err(_) => ended = true,
                    }
                    // Store when nothing more is waiting, the batch is
                    // full, or the connection ended.
                    if ended || events.len() >= BATCH || r.buffer().is_empty() {
                        let batch = std::mem::take(&mut events);
                        store(log.as_ref(), "syslog-tcp", batch, &stats).await;
                    }
                    if ended {
                        return;
                    }
                }
            });
        }
    };
    Ok((local, task))
}

/// The next message of a TCP stream: `None` at its end, `Some(Err(()))`
/// for one refused (too long: skipped whole).
async fn next_message<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> std::io::Result<Option<Result<Vec<u8>, ()>>> {
    let first = loop {
        let buf = r.fill_buf().await?;
        match buf.first() {
            None => return Ok(None),
            // Blank lines between messages.
            Some(b'\n' | b'\r' | b' ') => r.consume(1),
            Some(&b) => break b,
        }
    };
    if first.is_ascii_digit() {
        // Octet counting: "LEN SP MSG".
        let mut len = Vec::new();
        let n = r.read_until(b' ', &mut len).await?;
        let digits = std::str::from_utf8(
            trim(&len[..n])
                .strip_suffix(b" ")
                .unwrap_or(trim(&len[..n])),
        )
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok());
        match digits {
            Some(len) if len <= max => {
                let mut m = vec![0u8; len];
                r.read_exact(&mut m).await?;
                Ok(Some(Ok(trim(&m).to_vec())))
            }
            Some(len) => {
                // Skipped whole, the stream stays in step.
                let mut skip = (&mut *r).take(len as u64);
                tokio::io::copy(&mut skip, &mut tokio::io::sink()).await?;
                Ok(Some(Err(())))
            }
            // Not a count after all: a line that starts with a digit.
            None => {
                let mut rest = Vec::new();
                r.read_until(b'\n', &mut rest).await?;
                let mut m = len;
                m.extend_from_slice(&rest);
                Ok(Some(if m.len() > max {
                    Err(())
                } else {
                    Ok(trim(&m).to_vec())
                }))
            }
        }
    } else {
        let mut m = Vec::new();
        let mut limited = (&mut *r).take(max as u64 + 1);
        limited.read_until(b'\n', &mut m).await?;
        if m.len() > max && !m.ends_with(b"\n") {
            // Too long: drop the rest of the line.
            let mut rest = Vec::new();
            r.read_until(b'\n', &mut rest).await?;
            return Ok(Some(Err(())));
        }
        Ok(Some(Ok(trim(&m).to_vec())))
    }
}
