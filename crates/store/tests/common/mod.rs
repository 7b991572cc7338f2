//! The `VGF2` frame (uncompressed, still read) built from its documented layout (see
//! `vigie_store::embedded`), independently of the writer: for tests that
//! forge frames and for the open benchmark, which writes gigabytes of log
//! without an `fsync` per batch.

#![allow(dead_code)]

pub const SOURCE: &str = "test";

/// A frame of `events` for file offset `offset`, first position `first`
/// (tenant `default`, source [`SOURCE`], received 0).
pub fn frame(offset: u64, first: u64, events: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&7u16.to_le_bytes());
    body.extend_from_slice(b"default");
    body.extend_from_slice(&(SOURCE.len() as u16).to_le_bytes());
    body.extend_from_slice(SOURCE.as_bytes());
    body.extend_from_slice(&0i64.to_le_bytes());
    for e in events {
        body.extend_from_slice(&(e.len() as u32).to_le_bytes());
        body.extend_from_slice(e);
    }
    let mut fields = Vec::new();
    fields.extend_from_slice(&(body.len() as u32).to_le_bytes());
    fields.extend_from_slice(&(events.len() as u32).to_le_bytes());
    fields.extend_from_slice(&first.to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&fields);
    h.update(&offset.to_le_bytes());
    let head_crc = h.clone().finalize();
    h.update(&body);
    let mut out = b"VGF2".to_vec();
    out.extend_from_slice(&fields);
    out.extend_from_slice(&head_crc.to_le_bytes());
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// `n` hexadecimal digits that do not compress (frames are compressed:
/// tests that need bytes on disk use these), the same for the same seed.
pub fn noise(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut out = String::with_capacity(n + 16);
    while out.len() < n {
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    out.truncate(n);
    out
}
