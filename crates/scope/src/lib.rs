//! Vigie's *scope* stage: from detections and the raw events around them,
//! what kind of attack this is, how the attacker got in and when, which
//! machines and accounts are compromised, what data left, which critical
//! systems were *not* reached (and how we know), and what to isolate first.

pub mod assets;
pub mod model;

pub use assets::AssetsError;
pub use model::*;
