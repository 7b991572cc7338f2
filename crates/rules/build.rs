//! The rule pack is embedded with `include_dir!`, which cannot tell Cargo
//! which files it read: without this, adding or editing a rule under
//! `rules/vigie/` would not rebuild the crate and the binary would ship a
//! stale pack. Cargo scans a directory given to `rerun-if-changed`
//! recursively.
fn main() {
    println!("cargo:rerun-if-changed=../../rules/vigie");
    println!("cargo:rerun-if-changed=build.rs");
}
