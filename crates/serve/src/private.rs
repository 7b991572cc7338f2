//! A commune's evidence is the server's user's alone: every file `vigie
//! serve` (and `vigie token`, `vigie user`) writes under the data
//! directory is 0600, every directory 0700.
//!
//! Why the process's umask and not a mode per file: the files are
//! written by many crates (segments, the index, SQLite's journal and
//! WAL, exports, the archive, certificates); one mask at start covers
//! those to come, and a data directory made by an earlier Vigie (0644
//! segments in 0755 directories) is tightened once at start, said.

/// Files and directories made from now on by this process: no access
/// for the group or others.
pub fn umask() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's mask and cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// `data` and everything under it without group or other access (as the
/// mask makes new ones); how many were changed. Symbolic links are not
/// followed (what they point to is not the data directory's).
pub fn tighten(data: &std::path::Path) -> std::io::Result<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut changed = 0;
        let mut dirs = vec![data.to_path_buf()];
        let mut first = true;
        while let Some(dir) = dirs.pop() {
            let entries: Vec<(std::path::PathBuf, std::fs::Metadata)> = if first {
                first = false;
                vec![(dir.clone(), std::fs::symlink_metadata(&dir)?)]
            } else {
                vec![]
            };
            let read = std::fs::read_dir(&dir)?;
            let mut all = entries;
            for e in read {
                let e = e?;
                all.push((e.path(), e.metadata()?));
            }
            for (path, meta) in all {
                if meta.file_type().is_symlink() {
                    continue;
                }
                if meta.is_dir() && path != dir {
                    dirs.push(path.clone());
                }
                let mode = meta.permissions().mode();
                if mode & 0o077 != 0 {
                    std::fs::set_permissions(
                        &path,
                        std::fs::Permissions::from_mode(mode & !0o077),
                    )?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }
    #[cfg(not(unix))]
    {
        let _ = data;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_open_data_directory_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("events")).unwrap();
        std::fs::write(data.join("events/0.seg"), b"x").unwrap();
        for (p, m) in [("", 0o755), ("events", 0o755), ("events/0.seg", 0o644)] {
            std::fs::set_permissions(data.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
        assert_eq!(tighten(&data).unwrap(), 3);
        let mode = |p: &str| {
            std::fs::metadata(data.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            (mode(""), mode("events"), mode("events/0.seg")),
            (0o700, 0o700, 0o600)
        );
        assert_eq!(tighten(&data).unwrap(), 0);
    }
}
