//! The data directory: held by one process at a time (`serve.lock`), the
//! node's name kept in it (`node-id`), its `state.db` opened.
//!
//! Apart because these are what two nodes must never share, and the
//! reasons (a restarted node knowing its own alert claims) are easiest to
//! check read together.

use super::*;

/// This node as its claims on alert messages name it: its host name,
/// process and address (said to an operator reading the journal's claims).
/// This node as its alert claims name it: the machine's name and an id
/// made at its first start and kept in `DATA/node-id`.
///
/// Why kept, and not the process id as before: a node restarted after a
/// `kill -9` in the middle of a delivery found its own claim held by a
/// name that was no longer its own, counted it in `alerts_sent_elsewhere`
/// and left the message waiting for the lease. With the same name it
/// knows the claim as its own and sends at once. Two processes never
/// share a data directory (`serve.lock`); a directory copied to make
/// another node must leave `node-id` out (docs/regional.md).
pub(super) fn node_name(config: &Config) -> Result<String, ServeError> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let file = config.data.join("node-id");
    let io = |what: String| move |source| ServeError::Io { what, source };
    let kept = match std::fs::read_to_string(&file) {
        Ok(id) => id.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(format!("read {}", file.display()))(e)),
    };
    let id = if kept.len() == 16 && kept.bytes().all(|b| b.is_ascii_hexdigit()) {
        kept
    } else {
        if !kept.is_empty() {
            eprintln!(
                "vigie serve: {} does not hold a node id (16 hexadecimal digits): a new one is made",
                file.display()
            );
        }
        let id = format!("{:016x}", rand::random::<u64>());
        let part = config.data.join("node-id.part");
        std::fs::write(&part, format!("{id}\n"))
            .and_then(|_| std::fs::rename(&part, &file))
            .map_err(io(format!("write {}", file.display())))?;
        id
    };
    Ok(format!("{host} node {id}"))
}

/// The embedded state of `data` (`state.db`), the former files imported
/// into it first (what was imported, and any damaged line, said).
pub(crate) fn open_state(data: &std::path::Path) -> Result<Arc<vigie_state::Db>, ServeError> {
    let imported = vigie_state::import(data)?;
    for line in imported.lines() {
        eprintln!("vigie serve: {line}");
    }
    let db = vigie_state::Db::open(data)?;
    eprintln!("vigie serve: state in {}", db.place());
    Ok(db)
}

/// Takes `data/serve.lock` for as long as the file is held (the process
/// ends: the system lets go of it, even after `kill -9`), with this
/// process's id in it for the one refused.
pub(super) fn hold_data(data: &std::path::Path) -> Result<std::fs::File, ServeError> {
    use std::io::{Read, Seek, Write};
    let io = |what: String| move |source| ServeError::Io { what, source };
    std::fs::create_dir_all(data).map_err(io(format!("create {}", data.display())))?;
    let path = data.join("serve.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io(format!("open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let by = if holder.is_empty() {
                String::new()
            } else {
                format!(" (process {holder})")
            };
            return Err(ServeError::Config(format!(
                "{}: another vigie serve uses this data directory{by}: one server per data directory (two would write the same event log and page twice)",
                data.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io(format!("lock {}", path.display()))(e))
        }
    }
    let pid = std::process::id().to_string();
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(pid.as_bytes()));
    Ok(file)
}
