//! Writing outputs without ever destroying evidence.
//!
//! After ransomware, the collected logs may be the only copy there is.
//! So, for every file `vigie` writes (timeline, manifest, report, scope,
//! ATT&CK layer):
//!
//! 1. **Checked before any work** ([`check`]): an output may not be an
//!    input, nor lie inside an input directory (the next run would read it
//!    back as evidence), two outputs may not be one file, an existing
//!    output must be a regular file, and its directory must exist or be
//!    creatable, and be writable. Paths are compared canonically (symbolic
//!    links and `..` resolved; for an output that does not exist yet, its
//!    nearest existing ancestor). Every problem is reported at once; the
//!    hunt does not start (exit 2).
//! 2. **Written whole or not at all** ([`write_atomic`]): into a temporary
//!    file beside the target (`.NAME.XXXXXX.tmp`), renamed over the target
//!    once complete. A crash, a full disk or a kill leaves the previous
//!    file intact, never half a timeline.
//! 3. **One run's outputs together** ([`DirLocks`]): a run holds an
//!    exclusive lock on the directories of its outputs while it writes
//!    them. A second hunt writing the same outputs waits, then replaces
//!    them whole: the last to finish wins, and a timeline and the manifest
//!    beside it always come from the same run.
//! 4. **Independent**: one output that fails does not stop the others;
//!    the failure is reported and the command exits 2.
//!
//! Each written output's SHA-256 and size are taken from the bytes as they
//! are written, for the run manifest.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use vigie_hunt::manifest::OutputManifest;
use vigie_hunt::safe::escape;

/// One output a command will write.
#[derive(Debug, Clone)]
pub struct Planned {
    /// What it is (`timeline`, `manifest`, `report`, `scope`, `navigator`).
    pub kind: &'static str,
    pub path: PathBuf,
}

/// `path` made absolute with symbolic links and `..` resolved, also when
/// it does not exist yet (its nearest existing ancestor is resolved, the
/// rest appended lexically).
pub fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut base = absolute.as_path();
    let mut tail: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        match base.canonicalize() {
            Ok(c) => {
                let mut out = c;
                for part in tail.iter().rev() {
                    match Path::new(part).components().next() {
                        Some(Component::ParentDir) => {
                            out.pop();
                        }
                        Some(Component::CurDir) => {}
                        _ => out.push(part),
                    }
                }
                return Ok(out);
            }
            Err(_) => match (base.parent(), base.file_name()) {
                (Some(parent), Some(name)) => {
                    tail.push(name);
                    base = parent;
                }
                (Some(parent), None) => {
                    // `..` or `.` as last component: resolve the parent.
                    tail.push(
                        base.components()
                            .next_back()
                            .map_or(std::ffi::OsStr::new("."), |c| c.as_os_str()),
                    );
                    base = parent;
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "no existing ancestor",
                    ))
                }
            },
        }
    }
}

/// The nearest ancestor of `path` (absolute) that exists.
fn existing_ancestor(path: &Path) -> Option<&Path> {
    path.ancestors().skip(1).find(|a| a.exists())
}

/// Checks every planned output against the inputs and each other; all
/// problems, one message each (empty: go ahead).
pub fn check(outputs: &[Planned], inputs: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    let shown = |p: &Path| escape(&p.display().to_string()).into_owned();
    let inputs: Vec<(PathBuf, PathBuf, bool)> = inputs
        .iter()
        .filter_map(|i| {
            let c = i.canonicalize().ok()?;
            let dir = c.is_dir();
            Some((i.clone(), c, dir))
        })
        .collect();
    let mut seen: Vec<(PathBuf, &Planned)> = Vec::new();
    for o in outputs {
        let target = match resolve(&o.path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{} {}: {e}", o.kind, shown(&o.path)));
                continue;
            }
        };
        if let Some((_, first)) = seen.iter().find(|(t, _)| *t == target) {
            problems.push(format!(
                "{} {} and {} {} are the same file: give each output its own path",
                first.kind,
                shown(&first.path),
                o.kind,
                shown(&o.path)
            ));
            continue;
        }
        seen.push((target.clone(), o));
        for (given, canonical, is_dir) in &inputs {
            if target == *canonical {
                problems.push(format!(
                    "{} {} is the input {}: it would be overwritten; evidence is never written to",
                    o.kind,
                    shown(&o.path),
                    shown(given)
                ));
            } else if *is_dir && target.starts_with(canonical) && target.is_file() {
                problems.push(format!(
                    "{} {} is an input (in {}): it would be overwritten; evidence is never written to",
                    o.kind,
                    shown(&o.path),
                    shown(given)
                ));
            } else if *is_dir && target.starts_with(canonical) {
                problems.push(format!(
                    "{} {} is inside the input directory {}: the next run would read it back as evidence; write it elsewhere",
                    o.kind,
                    shown(&o.path),
                    shown(given)
                ));
            }
        }
        match std::fs::metadata(&target) {
            Ok(m) if !m.is_file() => {
                problems.push(format!(
                    "{} {} exists and is not a regular file",
                    o.kind,
                    shown(&o.path)
                ));
                continue;
            }
            _ => {}
        }
        match existing_ancestor(&target) {
            Some(dir) if dir.is_dir() => {
                if let Err(e) = tempfile::Builder::new()
                    .prefix(".vigie-write-check.")
                    .tempfile_in(dir)
                {
                    problems.push(format!(
                        "{} {}: cannot write in {}: {e}",
                        o.kind,
                        shown(&o.path),
                        shown(dir)
                    ));
                }
            }
            Some(dir) => problems.push(format!(
                "{} {}: {} is not a directory",
                o.kind,
                shown(&o.path),
                shown(dir)
            )),
            None => problems.push(format!(
                "{} {}: no existing directory above it",
                o.kind,
                shown(&o.path)
            )),
        }
    }
    problems
}

/// Exclusive locks on the directories of a run's outputs, held while it
/// writes them (see the module documentation). Released on drop.
pub struct DirLocks {
    _held: Vec<File>,
}

impl DirLocks {
    /// Locks the (existing or to-be-created) parent directories of
    /// `paths`, in a fixed order so that two runs cannot deadlock. Where
    /// the file system has no locks, writing goes ahead without them (the
    /// renames still keep every file whole).
    pub fn acquire(paths: &[&Path]) -> DirLocks {
        let mut dirs: Vec<PathBuf> = paths
            .iter()
            .filter_map(|p| resolve(p).ok())
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        let mut held = Vec::new();
        for d in dirs {
            if std::fs::create_dir_all(&d).is_err() {
                continue;
            }
            if let Ok(f) = File::open(&d) {
                match f.try_lock() {
                    Ok(()) => held.push(f),
                    Err(std::fs::TryLockError::WouldBlock) => {
                        eprintln!(
                            "vigie: another run is writing in {}; waiting for it to finish",
                            escape(&d.display().to_string())
                        );
                        if f.lock().is_ok() {
                            held.push(f);
                        }
                    }
                    Err(std::fs::TryLockError::Error(_)) => {}
                }
            }
        }
        DirLocks { _held: held }
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `path` whole or not at all: `fill` writes into a temporary file
/// beside it (buffered), which is synced and renamed over `path` once
/// complete. An existing file's permissions are kept; a new one gets the
/// permissions `File::create` would give it. Returns the
/// output's manifest entry (sha256 and size of the bytes written).
pub fn write_atomic(
    kind: &str,
    path: &Path,
    fill: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
) -> io::Result<OutputManifest> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // Created as `File::create` would (0666 less the umask), not 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(&dir)?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 20, tmp.as_file().try_clone()?),
        hash: Sha256::new(),
        size: 0,
    };
    fill(&mut w)?;
    w.flush()?;
    let Hashing { inner, hash, size } = w;
    inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    if let Ok(m) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), m.permissions());
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(OutputManifest {
        kind: kind.to_string(),
        path: path.display().to_string(),
        sha256: hex(&hash.finalize()),
        size,
    })
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolving_paths_that_do_not_exist_yet() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("in")).unwrap();
        assert_eq!(
            resolve(&root.join("in/new/../x.json")).unwrap(),
            root.join("in/x.json")
        );
        assert_eq!(resolve(&root.join("a/b/c")).unwrap(), root.join("a/b/c"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("in"), root.join("link")).unwrap();
            assert_eq!(
                resolve(&root.join("link/t.jsonl")).unwrap(),
                root.join("in/t.jsonl")
            );
        }
    }

    #[test]
    fn an_output_is_written_whole_and_hashed() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("sub/out.txt");
        let m = write_atomic("timeline", &p, |w| w.write_all(b"hello")).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        assert_eq!(m.size, 5);
        assert_eq!(
            m.sha256,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        // A failing writer leaves the previous file and no temporary one.
        let e = write_atomic("timeline", &p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(e.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        let left: Vec<_> = std::fs::read_dir(tmp.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
