//! Finding rule files under the paths a user gives.
//!
//! Symbolic links are followed (a rules directory is often a link to a
//! checkout), each directory is entered once and each file is read once,
//! whatever the number of paths that reach it: directories and files are
//! known by device and inode (on other systems, by canonical path). A
//! directory linking to its own parent would otherwise be walked until
//! the path length limit (~2⁴⁰ times for one loop: a rule loaded 41 times
//! gives 41 identical rows per event). The walk keeps its own stack rather
//! than recursing, so no directory depth can exhaust the thread's stack.

use std::collections::{HashMap, HashSet};
use std::fs::{self, FileType, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use crate::FailureKind;

/// What a path given by the user turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RootProblem {
    NotFound,
    Unreadable(String),
    /// A FIFO, socket or device: reading it could block or never end.
    Special,
}

/// One path given by the user, walked.
#[derive(Debug, Default)]
pub(crate) struct Root {
    pub problem: Option<RootProblem>,
    /// The rule files it reaches (indices into [`Walk::files`]), even
    /// those another path reached first.
    pub files: Vec<usize>,
}

/// Problems met inside a directory: an unreadable subdirectory, a broken
/// link or a special file named like a rule.
#[derive(Debug)]
pub(crate) struct Problem {
    pub path: PathBuf,
    pub kind: FailureKind,
    pub reason: String,
}

#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Rule files to read, each once, sorted by path.
    pub files: Vec<PathBuf>,
    pub roots: Vec<Root>,
    pub problems: Vec<Problem>,
}

/// Identity of a file or directory: device and inode (elsewhere, the
/// canonical path).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Id(#[cfg(unix)] (u64, u64), #[cfg(not(unix))] PathBuf);

#[cfg(unix)]
fn id_of(_path: &Path, m: &Metadata) -> Id {
    use std::os::unix::fs::MetadataExt;
    Id((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn id_of(path: &Path, _m: &Metadata) -> Id {
    Id(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// A regular file met in a directory listing, without a `stat`: its
/// inode comes with the listing and its device is its directory's
/// (SigmaHQ has 3,000 rule files: two system calls each saved).
#[cfg(unix)]
fn entry_id(e: &fs::DirEntry, dir: &Id) -> Id {
    use std::os::unix::fs::DirEntryExt;
    Id((dir.0 .0, e.ino()))
}

#[cfg(not(unix))]
fn entry_id(e: &fs::DirEntry, _dir: &Id) -> Id {
    let p = e.path();
    Id(fs::canonicalize(&p).unwrap_or(p))
}

fn is_rule_name(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

fn io_reason(e: &io::Error) -> String {
    e.to_string()
}

struct Walker {
    seen_files: HashMap<Id, usize>,
    files: Vec<PathBuf>,
    problems: Vec<Problem>,
}

impl Walker {
    /// The index of the file known by `id`, adding it when new.
    fn file(&mut self, path: PathBuf, id: Id) -> usize {
        let next = self.files.len();
        *self.seen_files.entry(id).or_insert_with(|| {
            self.files.push(path);
            next
        })
    }

    fn problem(&mut self, path: PathBuf, kind: FailureKind, reason: String) {
        self.problems.push(Problem { path, kind, reason });
    }

    /// Walks the directory `dir` (identity `id`), adding the rule files
    /// under it to `out`. Each given path is walked with its own set of
    /// directories seen, so that a path inside another still gets its
    /// files counted; files are read once all the same.
    fn dir(&mut self, dir: PathBuf, id: Id, out: &mut Vec<usize>) {
        let mut seen_dirs: HashSet<Id> = HashSet::new();
        seen_dirs.insert(id.clone());
        let mut stack = vec![(dir, id)];
        while let Some((dir, dir_id)) = stack.pop() {
            let listing = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) => {
                    let reason = format!("cannot read directory: {}", io_reason(&e));
                    self.problem(dir, FailureKind::Unreadable, reason);
                    continue;
                }
            };
            let mut entries: Vec<(PathBuf, Option<FileType>, Option<fs::DirEntry>)> = listing
                .filter_map(Result::ok)
                .map(|e| (e.path(), e.file_type().ok(), Some(e)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut subdirs = Vec::new();
            for (path, kind, entry) in entries {
                match kind {
                    Some(k) if k.is_file() => {
                        if is_rule_name(&path) {
                            let id = entry.as_ref().map(|e| entry_id(e, &dir_id));
                            let id = match id {
                                Some(id) => id,
                                None => continue,
                            };
                            out.push(self.file(path, id));
                        }
                    }
                    // Hidden directories (`.github` of a SigmaHQ checkout)
                    // hold CI settings, not rules.
                    Some(k) if k.is_dir() && is_hidden(&path) => {}
                    Some(k) if k.is_dir() => match fs::metadata(&path) {
                        Ok(m) => {
                            let id = id_of(&path, &m);
                            if seen_dirs.insert(id.clone()) {
                                subdirs.push((path, id));
                            }
                        }
                        Err(e) => {
                            let reason = format!("cannot read directory: {}", io_reason(&e));
                            self.problem(path, FailureKind::Unreadable, reason);
                        }
                    },
                    // Links (followed) and what the listing did not type.
                    _ => match fs::metadata(&path) {
                        Ok(m) if m.is_dir() => {
                            let id = id_of(&path, &m);
                            if !is_hidden(&path) && seen_dirs.insert(id.clone()) {
                                subdirs.push((path, id));
                            }
                        }
                        Ok(m) if m.is_file() => {
                            if is_rule_name(&path) {
                                let id = id_of(&path, &m);
                                out.push(self.file(path, id));
                            }
                        }
                        Ok(_) => {
                            if is_rule_name(&path) {
                                let reason =
                                    "not a regular file (FIFO, socket or device): not read"
                                        .to_string();
                                self.problem(path, FailureKind::Unreadable, reason);
                            }
                        }
                        Err(e) => {
                            if is_rule_name(&path) {
                                let reason = format!("cannot read: {}", io_reason(&e));
                                self.problem(path, FailureKind::Unreadable, reason);
                            }
                        }
                    },
                }
            }
            // Popped in name order.
            stack.extend(subdirs.into_iter().rev());
        }
    }
}

/// Walks every path: directories recursively (rule files are the
/// `.yml`/`.yaml` files), files named directly whatever their name.
pub(crate) fn walk<P: AsRef<Path>>(paths: &[P]) -> Walk {
    let mut w = Walker {
        seen_files: HashMap::new(),
        files: Vec::new(),
        problems: Vec::new(),
    };
    let mut roots = Vec::with_capacity(paths.len());
    for p in paths {
        let p = p.as_ref();
        let mut root = Root::default();
        match fs::metadata(p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                root.problem = Some(RootProblem::NotFound)
            }
            Err(e) => root.problem = Some(RootProblem::Unreadable(io_reason(&e))),
            Ok(m) if m.is_dir() => {
                let id = id_of(p, &m);
                w.dir(p.to_path_buf(), id, &mut root.files);
            }
            Ok(m) if m.is_file() => {
                let id = id_of(p, &m);
                root.files.push(w.file(p.to_path_buf(), id));
            }
            Ok(_) => root.problem = Some(RootProblem::Special),
        }
        roots.push(root);
    }
    // Sorted by path, so that rule order, reports and digests do not
    // depend on the order of the walk.
    let mut order: Vec<usize> = (0..w.files.len()).collect();
    order.sort_by(|&a, &b| w.files[a].cmp(&w.files[b]));
    let mut new_index = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut files: Vec<Option<PathBuf>> = w.files.into_iter().map(Some).collect();
    let files = order
        .iter()
        .map(|&i| files[i].take().expect("each index once"))
        .collect();
    for r in &mut roots {
        for f in &mut r.files {
            *f = new_index[*f];
        }
        r.files.sort_unstable();
        r.files.dedup();
    }
    // A directory under two given paths is listed twice: its problems
    // are told once.
    let mut told = HashSet::new();
    let problems = w
        .problems
        .into_iter()
        .filter(|p| told.insert(p.path.clone()))
        .collect();
    Walk {
        files,
        roots,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "vigie-walk-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_are_walked_once() {
        let d = tmp();
        fs::create_dir_all(d.join("a/b")).unwrap();
        fs::write(d.join("a/b/r.yml"), "x").unwrap();
        fs::write(d.join("a/notes.txt"), "x").unwrap();
        std::os::unix::fs::symlink(&d, d.join("a/b/loop")).unwrap();
        std::os::unix::fs::symlink(d.join("a"), d.join("a/b/up")).unwrap();
        std::os::unix::fs::symlink(d.join("a/b/r.yml"), d.join("a/same.yml")).unwrap();
        let w = walk(&[&d]);
        assert_eq!(w.files.len(), 1, "{:?}", w.files);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        // The same file through a second path given by the user.
        let w = walk(&[d.join("a"), d.join("a/same.yml"), d.clone()]);
        assert_eq!(w.files.len(), 1, "{:?}", w.files);
        for r in &w.roots {
            assert_eq!(r.files, vec![0]);
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn missing_special_and_broken_paths_are_told() {
        let d = tmp();
        std::os::unix::fs::symlink(d.join("nowhere"), d.join("broken.yml")).unwrap();
        let w = walk(&[d.join("missing"), d.clone(), PathBuf::from("/dev/null")]);
        assert_eq!(w.roots[0].problem, Some(RootProblem::NotFound));
        assert!(w.roots[1].problem.is_none());
        assert_eq!(w.roots[2].problem, Some(RootProblem::Special));
        assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
        assert!(w.problems[0].reason.contains("cannot read"));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn deep_directories_do_not_recurse() {
        let d = tmp();
        let mut p = d.clone();
        for _ in 0..300 {
            p.push("d");
        }
        fs::create_dir_all(&p).unwrap();
        fs::write(p.join("r.yaml"), "x").unwrap();
        let w = walk(&[&d]);
        assert_eq!(w.files.len(), 1);
        fs::remove_dir_all(&d).unwrap();
    }
}
