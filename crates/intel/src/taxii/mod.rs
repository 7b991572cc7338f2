//! TAXII 2.1: a client to poll collections ([`client`]) and the server's
//! responses as pure functions ([`server`]).

pub mod client;
pub mod server;
