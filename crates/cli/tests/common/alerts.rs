//! A webhook receiver as chat tools run one, for the tests of the
//! alerting through the binary (one node or several paging it).

use std::sync::mpsc::Receiver;
use std::time::Duration;

use serde_json::Value;

/// A webhook receiver as chat tools run one: every POST body answered
/// (200), in order, whichever node sent it.
pub fn webhook() -> (String, Receiver<Value>) {
    let (url, answered, _) = webhook_hanging(0);
    (url, answered)
}

/// [`webhook`] that leaves the first `hang` incidents' messages
/// unanswered (their connection held open: a sender waiting for the
/// reply) and passes them on the second receiver: not delivered.
pub fn webhook_hanging(hang: usize) -> (String, Receiver<Value>, Receiver<Value>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/vigie", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let (hung_tx, hung_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            let body = loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some(buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let Some(b) = body else { continue };
            let message: Value = serde_json::from_slice(&b).unwrap();
            if held.len() < hang && message["kind"] == "incident_new" {
                held.push(conn);
                let _ = hung_tx.send(message);
                continue;
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send(message).is_err() {
                return;
            }
        }
    });
    (url, rx, hung_rx)
}

/// Every message received until none came for two looks of the alerters.
pub fn drain(received: &Receiver<Value>, into: &mut Vec<Value>) {
    while let Ok(m) =
        received.recv_timeout(vigie_serve::alerts::LOOK_EVERY * 2 + Duration::from_secs(2))
    {
        into.push(m);
    }
}
