//! ZIP and 7z archives read like directories: collections as they arrive
//! (Velociraptor offline collectors, KAPE target output zipped, DFIR-ORC
//! 7z archives, the OTRF recordings).
//!
//! # Names
//!
//! Each member is a file of its own: its events' origin, its
//! [`FileReport`] (and so the manifest and the summary) name it
//! `archive.zip!/member/path`, nested archives one `!/` per level
//! (`a.zip!/b.zip!/Security.evtx`). In a Velociraptor collection the
//! member names are URL-encoded (`uploads/auto/C%3A/Windows/…`): the
//! decoded original path is shown (`uploads/auto/C:/Windows/…`), and the
//! collector's own bookkeeping (`client_info.json`, `log.json`,
//! `uploads.json`, `*.index`…) is listed in the archive's notes, not read
//! as events.
//!
//! # Memory and disk
//!
//! Nothing is ever written: members are decompressed into memory, one at
//! a time, as plain files are read into memory whole (EVTX needs random
//! access to its chunks; the member's SHA-256 is taken from the same
//! bytes). A member's path — `..`, absolute, drive letters — is only ever
//! a name. What bounds memory is the expansion budget below: no member
//! can be larger than what is left of it.
//!
//! # Bounds
//!
//! An archive may expand to at most [`ArchiveLimits::max_ratio`] times its
//! own size (but always to [`ArchiveLimits::min_budget`], so that small
//! archives of nearly empty EVTX files, which compress 1,000 to 1, are
//! read), and never past [`ArchiveLimits::max_total`]; nested archives
//! spend the budget of the outermost one, and are followed
//! [`ArchiveLimits::max_depth`] levels deep. When the budget runs out the
//! member being read is read as far as the budget went (and says so), and
//! the members after it are counted as not read: the archive's report
//! says how many and why. Encrypted members, unsupported compression
//! methods and damaged members each get a report naming the member and
//! the reason; the rest of the archive is still read.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use crate::{read_content, sha256_hex, Batch, FileReport, Format, Place, ReadOptions, SourceError};

/// How far an archive may make Vigie read (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Bytes decompressed per byte of the (outermost) archive, and per
    /// compressed byte of a member.
    pub max_ratio: u64,
    /// Bytes any archive may expand to, whatever its ratio.
    pub min_budget: u64,
    /// Bytes any member may expand to, whatever its ratio.
    pub min_member: u64,
    /// Bytes no archive may expand past, whatever its size.
    pub max_total: u64,
    /// Archives inside archives followed this many levels deep (the
    /// outermost archive is level 1).
    pub max_depth: u32,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            // Full EVTX logs compress 5–20 to 1, JSON Lines 10–30 to 1;
            // a deflate bomb reaches 1,032 to 1.
            max_ratio: 100,
            min_budget: 256 << 20,
            min_member: 16 << 20,
            max_total: 32 << 30,
            max_depth: 4,
        }
    }
}

impl ArchiveLimits {
    /// What a member of `compressed` bytes may expand to.
    pub fn member_cap(&self, compressed: u64) -> u64 {
        compressed
            .saturating_mul(self.max_ratio)
            .max(self.min_member)
    }

    /// The expansion budget of an archive of `size` bytes.
    pub fn budget(&self, size: u64) -> u64 {
        size.saturating_mul(self.max_ratio)
            .max(self.min_budget)
            .min(self.max_total)
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";
const SEVENZ_MAGIC: &[u8] = b"7z\xBC\xAF\x27\x1C";

/// The archive format of content starting with `b`, if it is one.
pub fn archive_format(b: &[u8]) -> Option<Format> {
    if b.starts_with(ZIP_MAGIC) || b.starts_with(ZIP_EMPTY_MAGIC) {
        Some(Format::Zip)
    } else if b.starts_with(SEVENZ_MAGIC) {
        Some(Format::SevenZip)
    } else {
        None
    }
}

/// The separator between an archive's path and a member's.
pub const MEMBER_SEPARATOR: &str = "!/";

/// Reads an archive already in memory (`bytes`, named `name`): one report
/// for the archive itself (its SHA-256 and size as stored, archive-wide
/// problems) first, then one per member and nested archive, in archive
/// order. Batches of member `k` (counting every member read, nested ones
/// included) carry `seq = k << 32 | seq`, so that sorting by `seq` gives
/// archive order.
pub fn read_archive(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
    on_batch: &(dyn Fn(Batch) + Sync),
) -> Vec<FileReport> {
    let mut top = FileReport::new(Path::new(name));
    top.size = bytes.len() as u64;
    if opts.sha256 {
        top.sha256 = sha256_hex(bytes);
    }
    let budget = opts.archive.budget(bytes.len() as u64);
    let mut walk = Walk {
        opts,
        on_batch,
        budget,
        left: budget,
        member: 0,
        reports: Vec::new(),
    };
    walk.archive(name, bytes, 1, &mut top);
    let mut out = vec![top];
    out.append(&mut walk.reports);
    out
}

struct Walk<'a> {
    opts: &'a ReadOptions,
    on_batch: &'a (dyn Fn(Batch) + Sync),
    budget: u64,
    left: u64,
    member: u64,
    reports: Vec<FileReport>,
}

/// One member as the archive gave it.
struct Member {
    name: String,
    bytes: Vec<u8>,
    /// Why it was not read whole (damaged, budget reached).
    problem: Option<String>,
}

impl Walk<'_> {
    fn archive(&mut self, name: &str, bytes: &[u8], depth: u32, report: &mut FileReport) {
        report.format = archive_format(bytes);
        match report.format {
            Some(Format::Zip) => self.zip(name, bytes, depth, report),
            Some(Format::SevenZip) => self.sevenz(name, bytes, depth, report),
            _ => {}
        }
    }

    fn limit_message(&self) -> String {
        format!(
            "archive expansion limit reached: {} bytes decompressed (at most {} times the archive's size, at least {} MiB, at most {} GiB)",
            self.budget,
            self.opts.archive.max_ratio,
            self.opts.archive.min_budget >> 20,
            self.opts.archive.max_total >> 30
        )
    }

    /// Reads `r` up to the archive's budget and `cap`; says why it stopped
    /// short, if it did (and whether a limit, rather than damage, did it).
    fn take(&mut self, r: &mut dyn Read, hint: u64, cap: u64) -> (Vec<u8>, Option<String>, bool) {
        let by_archive = self.left <= cap;
        let limit = self.left.min(cap);
        let mut buf = Vec::with_capacity(hint.min(limit).min(64 << 20) as usize);
        let res = r.take(limit.saturating_add(1)).read_to_end(&mut buf);
        let over = buf.len() as u64 > limit;
        if over {
            buf.truncate(limit as usize);
        }
        self.left -= buf.len() as u64;
        let problem = match res {
            Err(e) => Some(format!(
                "damaged member: {e}; reading the {} bytes recovered",
                buf.len()
            )),
            Ok(_) if over && by_archive => Some(format!(
                "{}; this member read only as far as its first {} bytes",
                self.limit_message(),
                buf.len()
            )),
            Ok(_) if over => Some(format!(
                "member expansion limit reached: read only as far as its first {} bytes (at most {} times its compressed size, at least {} MiB); the rest of the archive is still read",
                buf.len(),
                self.opts.archive.max_ratio,
                self.opts.archive.min_member >> 20
            )),
            Ok(_) => None,
        };
        (buf, problem, over)
    }

    fn zip(&mut self, name: &str, bytes: &[u8], depth: u32, report: &mut FileReport) {
        let mut z = match zip::ZipArchive::new(Cursor::new(bytes)) {
            Ok(z) => z,
            Err(e) => {
                report.errors.push(SourceError::new(
                    Place::File,
                    format!("damaged zip archive, not read: {e}"),
                ));
                return;
            }
        };
        let names: Vec<String> = (0..z.len())
            .map(|i| {
                z.by_index_raw(i)
                    .ok()
                    .and_then(|f| f.name().ok().map(|n| n.into_owned()))
                    .unwrap_or_else(|| format!("#{i}"))
            })
            .collect();
        let layout = Layout::of(names.iter().map(String::as_str));
        layout.note(report);
        let mut bookkeeping = Vec::new();
        for (i, raw_name) in names.iter().enumerate() {
            if self.left == 0 {
                let rest = names.len() - i;
                report.errors.push(SourceError::new(
                    Place::File,
                    format!(
                        "{}; {rest} member(s) from {} on not read",
                        self.limit_message(),
                        layout.display(raw_name)
                    ),
                ));
                return;
            }
            let shown = layout.display(raw_name);
            if layout.is_bookkeeping(raw_name) {
                bookkeeping.push(shown);
                continue;
            }
            let (encrypted, declared) = z
                .by_index_raw(i)
                .map(|f| (f.encrypted(), f.size()))
                .unwrap_or((false, 0));
            let member = match z.by_index(i) {
                Ok(mut f) => {
                    if f.is_dir() {
                        continue;
                    }
                    let hint = f.size();
                    let cap = self.opts.archive.member_cap(f.compressed_size());
                    let (bytes, problem, _) = self.take(&mut f, hint, cap);
                    Member {
                        name: shown,
                        bytes,
                        problem,
                    }
                }
                Err(e) => {
                    let why = match e {
                        _ if encrypted => "encrypted member (no password)".to_string(),
                        zip::result::ZipError::UnsupportedArchive(m) => {
                            format!("unsupported member ({m})")
                        }
                        zip::result::ZipError::CompressionMethodNotSupported(m) => {
                            format!("compression method {m} not supported")
                        }
                        e => format!("damaged member: {e}"),
                    };
                    self.unread(name, &shown, declared, why);
                    continue;
                }
            };
            self.member(name, member, depth);
        }
        if !bookkeeping.is_empty() {
            report.notes.push(format!(
                "Velociraptor collection: the collector's own records ({}) are not events, not read",
                bookkeeping.join(", ")
            ));
        }
    }

    fn sevenz(&mut self, name: &str, bytes: &[u8], depth: u32, report: &mut FileReport) {
        use sevenz_rust2::{Archive, BlockDecoder, Password};
        let password = Password::empty();
        let mut cursor = Cursor::new(bytes);
        let archive = match Archive::read(&mut cursor, &password) {
            Ok(a) => a,
            Err(e) => {
                let why = match e {
                    sevenz_rust2::Error::PasswordRequired => {
                        "encrypted 7z archive (no password), not read".to_string()
                    }
                    e => format!("damaged or unsupported 7z archive, not read: {e}"),
                };
                report.errors.push(SourceError::new(Place::File, why));
                return;
            }
        };
        let layout = Layout::of(archive.files.iter().map(|f| f.name.as_str()));
        layout.note(report);
        for block in 0..archive.blocks.len() {
            if self.left == 0 {
                report.errors.push(SourceError::new(
                    Place::File,
                    format!(
                        "{}; the members of {} compressed block(s) not read",
                        self.limit_message(),
                        archive.blocks.len() - block
                    ),
                ));
                return;
            }
            let mut members = Vec::new();
            let mut source = Cursor::new(bytes);
            let dec = BlockDecoder::new(1, block, &archive, &password, &mut source);
            let mut stopped = false;
            let cap = self.opts.archive.member_cap(bytes.len() as u64);
            let res = dec.for_each_entries(
                &mut |entry: &sevenz_rust2::ArchiveEntry, r: &mut dyn Read| {
                    if entry.is_directory {
                        return Ok(true);
                    }
                    if self.left == 0 {
                        stopped = true;
                        return Ok(false);
                    }
                    // Solid blocks do not say what each member takes: the
                    // member's cap follows the whole archive's size.
                    let (b, problem, over) = self.take(r, entry.size, cap);
                    members.push(Member {
                        name: layout.display(&entry.name),
                        bytes: b,
                        problem,
                    });
                    // Past a limit, the block is left (not drained: that
                    // would decompress the rest of the bomb).
                    stopped |= over;
                    Ok(!over)
                },
            );
            if let Err(e) = res {
                let why = match e {
                    sevenz_rust2::Error::PasswordRequired
                    | sevenz_rust2::Error::MaybeBadPassword(_) => {
                        "encrypted (no password), not read".to_string()
                    }
                    sevenz_rust2::Error::UnsupportedCompressionMethod(m) => {
                        format!("compression method {m} not supported, not read")
                    }
                    e => format!("damaged, not read past this point: {e}"),
                };
                report.errors.push(SourceError::new(
                    Place::File,
                    format!("compressed block {block}: {why}"),
                ));
                // A member cut short by the block's damage is still read
                // as far as it goes; it is marked so.
                if let Some(last) = members.last_mut() {
                    last.problem.get_or_insert_with(|| {
                        "damaged compressed block; reading what was recovered".to_string()
                    });
                }
            }
            if stopped {
                report.errors.push(SourceError::new(
                    Place::File,
                    format!(
                        "expansion limit reached in compressed block {block}: the members after {} not read",
                        members.last().map(|m| m.name.as_str()).unwrap_or("its start")
                    ),
                ));
            }
            for m in members {
                self.member(name, m, depth);
            }
        }
        // Members without data (empty files) are not in any block.
        for f in archive
            .files
            .iter()
            .filter(|f| !f.has_stream && !f.is_directory)
        {
            let shown = layout.display(&f.name);
            let mut r = FileReport::new(Path::new(&format!("{name}{MEMBER_SEPARATOR}{shown}")));
            r.errors.push(SourceError::new(
                Place::File,
                "empty file (or only whitespace)",
            ));
            self.reports.push(r);
        }
    }

    /// A member that could not be decompressed (`size`: as the archive
    /// declares it).
    fn unread(&mut self, archive: &str, shown: &str, size: u64, why: String) {
        let mut r = FileReport::new(Path::new(&format!("{archive}{MEMBER_SEPARATOR}{shown}")));
        r.size = size;
        r.errors
            .push(SourceError::new(Place::File, format!("cannot read: {why}")));
        self.reports.push(r);
    }

    /// Reads one decompressed member: a nested archive, or a log file.
    fn member(&mut self, archive: &str, m: Member, depth: u32) {
        let path = format!("{archive}{MEMBER_SEPARATOR}{}", m.name);
        let mut report = FileReport::new(Path::new(&path));
        report.size = m.bytes.len() as u64;
        if self.opts.sha256 {
            report.sha256 = sha256_hex(&m.bytes);
        }
        if let Some(p) = m.problem {
            report.errors.push(SourceError::new(Place::File, p));
        }
        if archive_format(&m.bytes).is_some() {
            if depth >= self.opts.archive.max_depth {
                report.format = archive_format(&m.bytes);
                report.errors.push(SourceError::new(
                    Place::File,
                    format!(
                        "archive nested more than {} levels deep, not read",
                        self.opts.archive.max_depth
                    ),
                ));
                self.reports.push(report);
                return;
            }
            let at = self.reports.len();
            self.reports.push(report);
            let mut nested =
                std::mem::replace(&mut self.reports[at], FileReport::new(Path::new("")));
            self.archive(&path, &m.bytes, depth + 1, &mut nested);
            self.reports[at] = nested;
            return;
        }
        let k = self.member;
        self.member += 1;
        let outer = self.on_batch;
        let on_batch = move |b: Batch| {
            outer(Batch {
                seq: (k << 32) | (b.seq & 0xFFFF_FFFF),
                events: b.events,
            })
        };
        let src: Arc<str> = Arc::from(path.as_str());
        read_content(&src, &m.bytes, self.opts, &on_batch, &mut report);
        self.reports.push(report);
    }
}

/// The collection layout of an archive, from its member names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Velociraptor,
    Kape,
    DfirOrc,
    Plain,
}

impl Layout {
    fn of<'a>(names: impl Iterator<Item = &'a str>) -> Layout {
        let mut uploads = false;
        let mut velo_meta = false;
        let mut kape = false;
        let mut orc = false;
        for n in names {
            let n = n.trim_start_matches("./");
            uploads |= n.starts_with("uploads/");
            velo_meta |= matches!(
                n,
                "client_info.json" | "collection_context.json" | "uploads.json"
            ) || n.starts_with("results/");
            let lower = n.to_ascii_lowercase();
            kape |= lower.len() > 2
                && lower.as_bytes()[1] == b'/'
                && lower[2..].starts_with("windows/system32/winevt/logs/");
            orc |= lower.starts_with("orc_") || lower.contains("/orc_") || lower == "config.xml";
        }
        if uploads && velo_meta {
            Layout::Velociraptor
        } else if kape {
            Layout::Kape
        } else if orc {
            Layout::DfirOrc
        } else {
            Layout::Plain
        }
    }

    fn note(self, report: &mut FileReport) {
        let what = match self {
            Layout::Velociraptor => {
                "Velociraptor offline collection: member names URL-decoded to the original paths"
            }
            Layout::Kape => "KAPE target output (drive letter folders)",
            Layout::DfirOrc => "DFIR-ORC archive",
            Layout::Plain => return,
        };
        report.notes.push(what.to_string());
    }

    /// The name a member is shown by.
    fn display(self, raw: &str) -> String {
        match self {
            Layout::Velociraptor => percent_decode(raw),
            _ => raw.to_string(),
        }
    }

    /// Velociraptor's own records, not events.
    fn is_bookkeeping(self, raw: &str) -> bool {
        self == Layout::Velociraptor
            && (matches!(
                raw,
                "client_info.json"
                    | "collection_context.json"
                    | "log.json"
                    | "requests.json"
                    | "uploads.json"
            ) || raw.ends_with(".index"))
    }
}

/// `%XX` decoded (Velociraptor writes `:` as `%3A`, `%` as `%25`); bytes
/// that do not form UTF-8 are kept encoded.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn velociraptor_names_decode_to_the_original_path() {
        assert_eq!(
            percent_decode("uploads/auto/C%3A/Windows/System32/winevt/Logs/Microsoft-Windows-Sysmon%254Operational.evtx"),
            "uploads/auto/C:/Windows/System32/winevt/Logs/Microsoft-Windows-Sysmon%4Operational.evtx"
        );
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz%41"), "a%zzA");
    }

    #[test]
    fn budget_follows_size_within_floor_and_cap() {
        let l = ArchiveLimits::default();
        assert_eq!(l.budget(1), l.min_budget);
        assert_eq!(l.budget(10 << 20), 1000 << 20);
        assert_eq!(l.budget(u64::MAX), l.max_total);
    }
}
