//! Sharing with the CSIRT: indicators in, matched at engine speed;
//! incidents out.
//!
//! ```text
//! STIX 2.1 · MISP event/feed · ThreatFox/URLhaus/Feodo CSV · value,type CSV · plain list · TAXII 2.1
//!      │  import::{import_bytes, import_path, import_url}, taxii::client::poll
//!      ▼
//! Vec<Indicator> ──► Matcher::compile ──► Matcher::evaluate(event) ──► vigie_detect::Match (kind ioc)
//!
//! Scope (+ assets, + the evidence events) ──► export::Findings ──► STIX 2.1 bundle · MISP event/feed
//!                                                                  · FortiGate lists + CSV · Navigator layer
//! STIX objects ──► taxii::server (pure responses: discovery, API root, collections, objects, manifest)
//! ```
//!
//! Modules: `model` (indicators, TLP, problems), `normalize` (one form per
//! observable), `pattern` (the STIX patterning language), `import`
//! (formats in), `matcher` (the compiled set), `export` (formats out),
//! `navigator` (ATT&CK Navigator layers, shared with `vigie-hunt`),
//! `taxii` (client polling and server responses), `ids` (deterministic
//! identifiers), `http` (feeds over HTTPS).
//!
//! # When an indicator matches
//!
//! At the **event's** time, so that a hunt through last year's logs uses
//! the indicators as they were then: an event after `valid_until` does
//! not match (the address may have changed hands); an event before
//! `valid_from` matches within a look-back (90 days by default,
//! [`MatchOptions::lookback`]) one level lower and says so, because feeds
//! date an indicator when they publish it, after the activity it
//! describes — a retro-hunt must find that activity; long before, an
//! address was likely someone else's. Events without a time match
//! (never an "all clear" by omission). Revoked indicators are not
//! imported.
//!
//! # Which event fields carry which observables
//!
//! Names compared without regard to case. Addresses match addresses and
//! networks; host names match domains (and their parents); URLs match
//! URLs, and their host the domains and addresses; digests match by
//! algorithm; paths match file names by their last component.
//!
//! | field | carries | logs |
//! |---|---|---|
//! | `SourceIp`, `DestinationIp` | address | Sysmon 3 |
//! | `SourceHostname`, `DestinationHostname` | host name or address | Sysmon 3 |
//! | `QueryName` | host name | Sysmon 22, DNS Client 3008/3020 |
//! | `QueryResults` | names and addresses answered | Sysmon 22 |
//! | `Hashes`, `Hash` | MD5, SHA-1, SHA-256, IMPHASH (`ALGO=hex,…`) | Sysmon 1, 6, 7, 15, 23, 26, 29 |
//! | `Image`, `ParentImage`, `OriginalFileName`, `ImageLoaded`, `TargetFilename` | file name | Sysmon 1, 3, 6, 7, 11, 15, 22, 23, 26, 29 |
//! | `IpAddress` | address | Security 4624, 4625, 4648, 4768, 4769, 4771, 5140, 5145 |
//! | `SourceAddress`, `DestAddress` | address | Security 5156, 5157 |
//! | `Application` | file name | Security 5156, 5157 |
//! | `NewProcessName`, `ParentProcessName` | file name | Security 4688 |
//! | `ImagePath`, `ServiceFileName` | file name of the program | System 7045, Security 4697 |
//! | `Address` | address | TerminalServices-LocalSessionManager 21, 24, 25 |
//! | `Param3` | address | TerminalServices-RemoteConnectionManager 1149 |
//! | `srcip`, `dstip`, `remip` | address | FortiGate traffic, VPN, UTM |
//! | `hostname`, `qname` | host name | FortiGate web and DNS filter, traffic (SNI) |
//! | `url` | URL (a path alone is joined to `hostname`) | FortiGate web filter, proxies |
//! | `filename`, `filehash` | file name, digest | FortiGate antivirus |
//! | `c-ip`, `s-ip`, `cs-host` | address, host name | W3C logs (IIS, proxies) |
//! | `src_ip`, `dst_ip`, `dest_ip`, `domain`, `query` | address, host name | proxies, Suricata EVE, generic JSON, Zeek dns |
//! | `id.orig_h`, `id.resp_h` | address | Zeek |
//! | `source.ip`, `destination.ip`, `client.ip`, `server.ip` | address | ECS |
//! | `destination.domain`, `dns.question.name`, `url.domain` | host name | ECS |
//! | `url.full`, `url.original` | URL | ECS |
//! | `file.name`, `file.path`, `process.executable`, `process.name` | file name | ECS |
//! | `file.hash.*`, `process.hash.*` (`md5`, `sha1`, `sha256`), `process.pe.imphash`, `file.pe.imphash` | digest | ECS |
//!
//! A field not in the table is not read: an address inside a command line
//! or a user name is not a connection to it.
//!
//! # What `vigie serve` uses
//!
//! * [`Matcher`]: compile once ([`Matcher::compile`]), share behind an
//!   `Arc`, rebuild and swap when indicators change; [`Matcher::evaluate`]
//!   appends [`vigie_detect::Match`]es beside the engine's,
//!   [`Matcher::hits`] gives the indicator behind each;
//! * [`import::import_bytes`] (uploads), [`import::import_url`] (MISP
//!   feeds), [`taxii::client::poll`] (TAXII 2.1 collections, with
//!   `added_after`, pagination and ETag);
//! * [`taxii::server`]: the TAXII 2.1 responses from a list of STIX
//!   objects, for serve to mount behind its authentication;
//! * [`export`]: the bundle, event and lists of an incident.

pub mod export;
pub mod http;
pub mod ids;
pub mod import;
pub mod matcher;
pub mod model;
pub mod navigator;
pub mod normalize;
pub mod pattern;
pub mod taxii;

pub use import::{import_bytes, import_path, import_url, Auth, ImportError};
pub use matcher::{CompileReport, Hit, MatchOptions, Matcher};
pub use model::{
    Condition, Format, HashAlgo, Imported, Indicator, Kind, Problem, ProblemKind, Source,
    Subdomains, Term, Test, Tlp,
};

#[cfg(test)]
mod tests {
    /// The field table of the crate documentation lists every field the
    /// matcher reads.
    #[test]
    fn documented_fields_are_the_fields_read() {
        let doc = include_str!("lib.rs");
        for (name, _, _) in crate::matcher::fields::FIELDS {
            let documented = doc.contains(&format!("`{name}`"))
                || (name.contains(".hash.")
                    && doc.contains(&format!(
                        "`{}.hash.*`",
                        name.split('.').next().unwrap_or("")
                    )));
            assert!(
                documented,
                "field {name} is read but not in the crate documentation's table"
            );
        }
    }
}
