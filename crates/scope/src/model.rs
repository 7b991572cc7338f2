//! The data model of the scope stage: the [`Assets`] file that describes an
//! organisation, and the [`Scope`] that Vigie derives from logs.
//!
//! Both are plain serde data so that other stages (HTML report, server,
//! status page, STIX export, GDPR draft) can consume them without this
//! crate's logic. `Scope` is a JSON contract, documented field by field in
//! `docs/scope-schema.md`; changes must be additive (new optional fields,
//! new enum values) and bump [`SCHEMA_VERSION`]'s minor number.
//!
//! Every claim in a `Scope` carries [`Evidence`]: a pointer back to the raw
//! event (file + record id or line), so that a CSIRT can verify it.

use serde::{Deserialize, Serialize};
use vigie_detect::Level;
use vigie_event::{Locator, Timestamp};
use vigie_lang::Lang;

/// Version of the JSON scope schema (`Scope::schema_version`).
/// Major changes break consumers; minor ones only add fields or values.
pub const SCHEMA_VERSION: &str = "1.1";

// ---------------------------------------------------------------------------
// Assets
// ---------------------------------------------------------------------------

/// What an organisation tells Vigie about itself (`--assets FILE.yml`).
///
/// Optional: without it Vigie infers roles (e.g. domain controllers from
/// Kerberos events) and answers "unknown" where only the organisation knows
/// (which zone is isolated, which service depends on which host).
/// Documented in `docs/assets.md`, example in `docs/assets.example.yml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Assets {
    /// Name of the organisation, shown in reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// Active Directory domain names (e.g. `ccpab.local`, `CCPAB`): used
    /// to strip domains from account and host names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Network zones. A zone marked `critical` or `isolated` gets a
    /// reached / not reached / unknown statement in every scope.
    pub zones: Vec<ZoneAsset>,
    /// Hosts; `name` may be a pattern with `*` and `?` (case-insensitive).
    /// The first matching entry wins.
    pub hosts: Vec<HostAsset>,
    /// Accounts of note (admins, service accounts, outside providers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountAsset>,
    /// Data stores and shares, with their sensitivity.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_stores: Vec<DataStoreAsset>,
    /// Citizen services, with a plain description. Services named in
    /// `hosts[].services` but not listed here are still known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceAsset>,
    /// Address plan: VPN pools and internal ranges.
    pub networks: NetworksAsset,
    /// Who the organisation is for the authorities (SIREN, address, DPO,
    /// crisis cell, NIS2 status): read by the notification drafts.
    #[serde(skip_serializing_if = "OrganisationDetails::is_empty")]
    pub organisation_details: OrganisationDetails,
    /// Title and introduction of the public status page.
    #[serde(skip_serializing_if = "StatusPageAsset::is_empty")]
    pub status_page: StatusPageAsset,
}

/// A network zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZoneAsset {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Losing it stops essential services.
    pub critical: bool,
    /// Meant to be unreachable from the rest of the network (e.g. the
    /// State's passport/ID-card station on its own line).
    pub isolated: bool,
}

/// A host or a family of hosts (`PC-*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostAsset {
    /// Host name or pattern (`*` any run of characters, `?` one), matched
    /// case-insensitively against the short name and the FQDN.
    pub name: String,
    /// Name of a zone from `zones`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Role, free text; Vigie understands `domain_controller`,
    /// `file_server`, `application_server`, `database_server`,
    /// `backup_server`, `remote_desktop`, `web_server`, `workstation`,
    /// `firewall`, `vpn_gateway`, `isolated_station`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Citizen services that depend on this host; `"*"` means every service
    /// (e.g. a domain controller that every logon needs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// IP addresses of the host (to resolve connections to it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Kind of account.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// An administrator (domain or local).
    Admin,
    /// A service account (runs software, often with an SPN).
    Service,
    /// An outside provider's account.
    Provider,
    /// An ordinary staff account.
    User,
    /// A computer account (`NAME$`).
    Machine,
    /// A built-in Windows identity or well-known account.
    Builtin,
    #[default]
    Unknown,
}

/// An account of note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountAsset {
    /// Account name or pattern (`adm.*`), without domain, case-insensitive.
    pub name: String,
    pub kind: AccountKind,
    /// Holds administrative rights (domain admin, backup operator...).
    pub privileged: bool,
    /// Whether logons of this account require MFA, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How sensitive a data store is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Public,
    #[default]
    Internal,
    Confidential,
    /// Personal data (GDPR).
    Personal,
    /// Special-category personal data (GDPR Art. 9: health, social
    /// situation...).
    SpecialCategory,
}

/// A data store or share.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataStoreAsset {
    /// Name used in the report (e.g. `CIAS`).
    pub name: String,
    /// Host that holds it (name as in `hosts`).
    pub host: String,
    /// Local path on the host (e.g. `D:\Partages\CIAS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// SMB share name (e.g. `CIAS`), if shared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    pub sensitivity: Sensitivity,
    /// Holds personal data (GDPR notification may be due if it left).
    pub personal_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Categories of personal data it holds (CNIL form categories:
    /// `identity`, `family_situation`, `social`, `health`, `nir`...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_categories: Vec<DataCategory>,
    /// Who the data is about, in words (`Bénéficiaires de l'aide sociale`,
    /// `Agents`, `Mineurs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_subjects: Vec<String>,
    /// Approximate number of persons concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persons: Option<u64>,
    /// Approximate number of records (files, rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
}

/// A citizen service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceAsset {
    pub name: String,
    /// Internal description (reports, console).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The name residents know it by, for the public status page
    /// (`Centre aquatique`). Without it the page shows `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_name: Option<LocalText>,
    /// One sentence for residents: what the service does for them. Never
    /// host names or internal detail: it is published as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_description: Option<LocalText>,
    /// Heading the status page groups it under (`Solidarité`, `Sports`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<LocalText>,
    /// An internal service (backups, remote work): on the service board,
    /// never on the public status page.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    /// Who depends on it (`Bénéficiaires de l'aide sociale`), in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependants: Option<String>,
    /// Approximate number of people who depend on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependants_count: Option<u64>,
    /// What residents can do while it is down: phone, address, hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative: Option<AlternativeAsset>,
}

/// A text for people, in one language for both (`Accueil`) or in each
/// (`{fr: Piscine, en: Swimming pool}`). French is the default language
/// of everything public; English falls back to it when not given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LocalText {
    /// The same text in every language.
    Same(String),
    /// French and (optionally) English.
    Both(LocalTextBoth),
}

/// The two-language form of [`LocalText`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalTextBoth {
    pub fr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl LocalText {
    /// The French text.
    pub fn fr(&self) -> &str {
        match self {
            LocalText::Same(s) => s,
            LocalText::Both(b) => &b.fr,
        }
    }

    /// The English text, else the French one.
    pub fn en(&self) -> &str {
        match self {
            LocalText::Same(s) => s,
            LocalText::Both(b) => b.en.as_deref().unwrap_or(&b.fr),
        }
    }

    /// The text in French (`french`) or English.
    pub fn get(&self, french: bool) -> &str {
        if french {
            self.fr()
        } else {
            self.en()
        }
    }
}

impl From<&str> for LocalText {
    fn from(s: &str) -> Self {
        LocalText::Same(s.to_string())
    }
}

/// What residents can use while a service is down.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlternativeAsset {
    /// What to do, in words (`Les travailleurs sociaux vous rappellent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<LocalText>,
    /// Temporary phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Where to go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// When (`lundi–vendredi 9 h–12 h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<LocalText>,
    /// A page outside the compromised network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Categories of personal data, as the CNIL's breach notification form
/// lists them (keys in English, French labels in the glossary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    /// Civil status, identity, identification data (état civil, identité).
    Identity,
    /// Family situation (situation familiale).
    FamilySituation,
    /// Personal life (habits, lifestyle).
    PersonalLife,
    /// Professional life (CV, career, HR files).
    ProfessionalLife,
    /// Economic and financial data (income, bank details, tax).
    EconomicFinancial,
    /// Social situation and benefits (données sociales, aides).
    Social,
    /// Connection data (logins, IP addresses, logs).
    ConnectionData,
    /// Location data.
    Location,
    /// The French social security number (NIR).
    Nir,
    /// Copies of official identity documents.
    IdentityDocuments,
    /// Passwords or other credentials.
    Credentials,
    /// Health data (GDPR Art. 9).
    Health,
    /// Offences, convictions, security measures (GDPR Art. 10).
    Offences,
    /// Other special categories of GDPR Art. 9 (origin, opinions, beliefs,
    /// union membership, sexual life, genetic, biometric).
    OtherSpecial,
}

impl DataCategory {
    /// Special categories (GDPR Art. 9) and offences (Art. 10): a breach of
    /// them is presumed to carry a high risk.
    pub fn is_sensitive(self) -> bool {
        matches!(
            self,
            DataCategory::Health | DataCategory::Offences | DataCategory::OtherSpecial
        )
    }

    /// The snake_case key (as in the assets file and the glossary).
    pub fn key(self) -> &'static str {
        match self {
            DataCategory::Identity => "identity",
            DataCategory::FamilySituation => "family_situation",
            DataCategory::PersonalLife => "personal_life",
            DataCategory::ProfessionalLife => "professional_life",
            DataCategory::EconomicFinancial => "economic_financial",
            DataCategory::Social => "social",
            DataCategory::ConnectionData => "connection_data",
            DataCategory::Location => "location",
            DataCategory::Nir => "nir",
            DataCategory::IdentityDocuments => "identity_documents",
            DataCategory::Credentials => "credentials",
            DataCategory::Health => "health",
            DataCategory::Offences => "offences",
            DataCategory::OtherSpecial => "other_special",
        }
    }
}

/// How NIS2 applies to the organisation (French transposition terms).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Nis2Status {
    /// Entité essentielle.
    Essential,
    /// Entité importante.
    Important,
    /// Not covered.
    NotCovered,
    /// Not stated: the drafts are written, marked "to be confirmed".
    #[default]
    Unknown,
}

/// A person or office to contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactAsset {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Function (`Président`, `Délégué à la protection des données`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl ContactAsset {
    pub fn is_empty(&self) -> bool {
        self == &ContactAsset::default()
    }
}

/// The organisation as the authorities know it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrganisationDetails {
    /// SIREN number (9 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siren: Option<String>,
    /// Kind of organisation (`communauté de communes`, `commune`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Postal address of the seat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Residents served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population: Option<u64>,
    /// Legal representative, who signs notifications and the complaint.
    #[serde(skip_serializing_if = "ContactAsset::is_empty")]
    pub representative: ContactAsset,
    /// Data protection officer (DPO / DPD).
    #[serde(skip_serializing_if = "ContactAsset::is_empty")]
    pub dpo: ContactAsset,
    /// The crisis cell's contact.
    #[serde(skip_serializing_if = "ContactAsset::is_empty")]
    pub crisis_cell: ContactAsset,
    /// Cyber-insurance: insurer and policy (the complaint within 72 h is
    /// the condition of its payment, Code des assurances L.12-10-1).
    #[serde(skip_serializing_if = "ContactAsset::is_empty")]
    pub insurer: ContactAsset,
    /// Insurance policy number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insurance_policy: Option<String>,
    /// Whether NIS2 applies: `essential`, `important`, `not_covered`,
    /// `unknown` (default).
    pub nis2: Nis2Status,
    /// The competent NIS2 authority (default ANSSI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nis2_authority: Option<String>,
    /// NIS2 sector (`administration publique`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nis2_sector: Option<String>,
}

impl OrganisationDetails {
    pub fn is_empty(&self) -> bool {
        self == &OrganisationDetails::default()
    }
}

/// The public status page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusPageAsset {
    /// Title (default: "État des services — ORGANISATION").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<LocalText>,
    /// Introduction shown above the services.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intro: Option<LocalText>,
    /// Public address where the page is published (Atom ids and links);
    /// a host outside the compromised network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// General phone number for residents during the crisis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl StatusPageAsset {
    pub fn is_empty(&self) -> bool {
        self == &StatusPageAsset::default()
    }
}

/// The address plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworksAsset {
    /// Address pools handed to VPN clients (CIDR), e.g. `10.212.134.0/24`.
    /// A logon from there is remote access through the VPN.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vpn_pools: Vec<String>,
    /// Extra internal ranges (CIDR) besides the RFC 1918 ones, e.g. a
    /// public range the organisation owns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub internal: Vec<String>,
}

// ---------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------

/// Pointer from a claim back to the raw event that supports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// When the event happened (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    /// File (or live source) the event was read from.
    pub source: String,
    /// Where in the source: `{"kind":"record","at":N}`, `{"kind":"line","at":N}`...
    pub locator: Locator,
    /// Host that logged the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Windows event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<u32>,
    /// Rule id when the evidence is a detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Rule title when the evidence is a detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_title: Option<String>,
    /// Rule level when the evidence is a detection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// One line saying what the event shows.
    pub summary: String,
}

/// How sure Vigie is of a conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// A time span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub first: Timestamp,
    pub last: Timestamp,
}

/// The result of the scope stage: what happened, where, and how we know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scope {
    /// [`SCHEMA_VERSION`] of the producer.
    pub schema_version: String,
    /// Language of every sentence of this scope (answers, reasons,
    /// descriptions, evidence summaries). Keys and enum values are English
    /// whatever it is.
    #[serde(default)]
    pub lang: Lang,
    /// The verdict, with what was analysed and what was not: never "all
    /// clear" when the logs cannot support it.
    #[serde(default)]
    pub assessment: Assessment,
    /// Time span of every event observed.
    pub observed: Option<Period>,
    /// Time span of the malicious activity (first to last signal).
    pub attack_period: Option<Period>,
    /// Whether an assets file was given (otherwise roles are inferred).
    pub assets_loaded: bool,
    /// The plain-words answer for the crisis cell.
    pub answer: Answer,
    /// What kind of attack this is, strongest first.
    pub nature: Vec<Nature>,
    /// How and when the attacker got in, if the logs say.
    pub entry_point: Option<EntryPoint>,
    /// Detections grouped by shared entities and time, most severe first.
    pub incidents: Vec<Incident>,
    /// Every host seen, implicated ones first.
    pub hosts: Vec<Host>,
    /// Accounts of interest (implicated, privileged, or of note).
    pub accounts: Vec<Account>,
    /// Source addresses of remote logons and connections.
    pub addresses: Vec<Address>,
    /// Host-to-host (or address-to-host) movement evidence.
    pub links: Vec<Link>,
    /// Password sprays, brute force and Kerberoasting, with the accounts
    /// they targeted and the outcome for each.
    #[serde(default)]
    pub credential_attacks: Vec<CredentialAttack>,
    /// Processes of interest (detected), with their parent chains.
    pub processes: Vec<Process>,
    /// Services installed (7045 / 4697).
    pub services_installed: Vec<ServiceInstall>,
    /// Scheduled tasks created or updated (4698 / 4702).
    pub scheduled_tasks: Vec<ScheduledTask>,
    /// Domains contacted (DNS queries) that detections point at.
    pub domains: Vec<Domain>,
    /// Files of interest (written by detected activity).
    pub files: Vec<FileOfInterest>,
    /// Archive, copy, upload and transfer activity tied to data stores.
    pub data_exposure: Vec<DataExposure>,
    /// Log coverage per host and channel.
    pub coverage: Coverage,
    /// Status of every critical or isolated zone.
    pub zones: Vec<ZoneStatus>,
    /// Prioritised containment actions.
    pub containment: Vec<Action>,
    /// Citizen services and whether they are affected.
    pub services: Vec<ServiceStatus>,
    /// Counts of detections.
    pub detections: DetectionSummary,
    /// Limits of this scope (missing assets file, missing logs...).
    pub caveats: Vec<String>,
}

/// The headline answers, in plain words, one sentence each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// One paragraph summing up the rest.
    pub headline: String,
    /// What kind of attack.
    pub nature: String,
    /// How and when the attacker got in.
    pub entry: String,
    /// Which hosts and accounts are compromised.
    pub extent: String,
    /// Whether critical/isolated systems were reached, and how we know.
    pub isolated_systems: String,
    /// Which data probably left.
    pub data_exposure: String,
    /// What to isolate first, in order.
    pub isolate_now: Vec<String>,
}

/// Kinds of attack behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatureKind {
    /// Encryption or destruction for extortion (impact, recovery inhibited).
    Ransomware,
    /// Data collected and sent out.
    DataTheft,
    /// Credentials dumped or tickets stolen.
    CredentialTheft,
    /// Remote-access tool installed to keep access.
    RemoteAccessPersistence,
    /// Movement between machines.
    LateralMovement,
    /// Accounts created or added to privileged groups.
    AccountManipulation,
    /// Security tools disabled, logs cleared.
    DefenceEvasion,
    /// Reconnaissance of the network and the directory.
    Discovery,
    /// Command-and-control channel.
    CommandAndControl,
    /// Other persistence (services, tasks, run keys).
    Persistence,
    /// Code execution (scripts, LOLBins) without a clearer purpose.
    Execution,
    /// Initial access (phishing, exposed service, valid accounts).
    InitialAccess,
}

/// One nature of the attack with how sure we are and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nature {
    pub kind: NatureKind,
    /// Plain-words label (e.g. "human-operated ransomware").
    pub label: String,
    pub confidence: Confidence,
    /// Distinct rules and behaviours behind it.
    pub reasons: Vec<String>,
    pub evidence: Vec<Evidence>,
    /// Independent pieces of evidence behind it (distinct rules or
    /// behaviours that do not rest on the same events).
    #[serde(default)]
    pub independent_evidence: u32,
    /// Why this confidence, in one sentence.
    #[serde(default)]
    pub confidence_reason: String,
}

/// Kind of network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// Public address (outside the organisation).
    External,
    /// In a VPN pool of the assets file.
    Vpn,
    /// Private / internal address.
    Internal,
    /// Loopback or link-local.
    Local,
    /// Not an IP address.
    Unknown,
}

/// Where and how the attacker got in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryPoint {
    pub time: Option<Timestamp>,
    /// First host the attacker used.
    pub host: Option<String>,
    pub account: Option<String>,
    pub source_address: Option<String>,
    pub source_kind: Option<AddressKind>,
    /// How: `vpn`, `rdp`, `network_logon`, `local_execution`,
    /// `first_detection`...
    pub method: String,
    /// One sentence.
    pub description: String,
    pub confidence: Confidence,
    pub evidence: Vec<Evidence>,
    /// For an entry inside the network (`local_execution`): the first
    /// malicious process (image and command line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// Its parent image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// One ATT&CK step in an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressionStep {
    pub first: Timestamp,
    pub last: Timestamp,
    /// ATT&CK tactic id (`TA0008`), if known.
    pub tactic_id: Option<String>,
    /// ATT&CK tactic name (`Lateral Movement`) or `Unknown`.
    pub tactic: String,
    /// ATT&CK technique id (`T1021.002`), if the rule has one.
    pub technique_id: Option<String>,
    pub technique: Option<String>,
    pub rule_id: Option<String>,
    pub rule_title: String,
    pub level: Option<Level>,
    pub hosts: Vec<String>,
    pub accounts: Vec<String>,
    pub count: u64,
    /// The first event of the step.
    pub evidence: Evidence,
}

/// First/last activity of an entity within an incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityActivity {
    pub name: String,
    pub first: Timestamp,
    pub last: Timestamp,
    pub detections: u64,
}

/// Detections grouped into one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-1`, `INC-2`... (1 is the most severe).
    pub id: String,
    pub severity: Level,
    pub nature: Vec<NatureKind>,
    pub first: Timestamp,
    pub last: Timestamp,
    pub hosts: Vec<EntityActivity>,
    pub accounts: Vec<EntityActivity>,
    /// External / VPN source addresses involved.
    pub addresses: Vec<String>,
    pub detections: u64,
    /// ATT&CK steps in time order of first occurrence.
    pub progression: Vec<ProgressionStep>,
    /// Tactics in time order of first occurrence (deduplicated).
    pub tactics: Vec<String>,
    pub entry_point: Option<EntryPoint>,
    /// Ids of the `links` that belong to this incident (lateral-movement graph).
    pub links: Vec<String>,
    pub services_affected: Vec<String>,
    /// One sentence: what, where, when.
    #[serde(default)]
    pub summary: String,
    /// Its natures with their evidence and confidence, in the order of
    /// `nature` (the main incident's are the scope's `nature`).
    #[serde(default)]
    pub nature_detail: Vec<Nature>,
}

/// Whether an entity is compromised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compromise {
    /// Not implicated by the logs.
    No,
    /// Implicated by weak signals only.
    Suspected,
    /// Implicated by strong signals.
    Yes,
}

/// Detection counts by level.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelCounts {
    pub informational: u64,
    pub low: u64,
    pub medium: u64,
    pub high: u64,
    pub critical: u64,
    /// Rules without a level.
    pub unset: u64,
}

/// A host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Short upper-case name (`SRV-RDS01`).
    pub name: String,
    /// Fully qualified names seen for it.
    pub fqdns: Vec<String>,
    pub zone: Option<String>,
    pub role: Option<String>,
    /// `assets` or `inferred`.
    pub role_source: Option<String>,
    /// Why the role was inferred.
    pub role_reason: Option<String>,
    pub critical: bool,
    pub isolated: bool,
    pub compromised: Compromise,
    /// Why (strongest signals).
    pub compromise_reasons: Vec<String>,
    pub first_malicious: Option<Timestamp>,
    pub last_malicious: Option<Timestamp>,
    pub detections: LevelCounts,
    pub services: Vec<String>,
    pub addresses: Vec<String>,
    pub incidents: Vec<String>,
    /// Events logged by this host.
    pub events: u64,
    pub first_event: Option<Timestamp>,
    pub last_event: Option<Timestamp>,
    pub evidence: Vec<Evidence>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Lower-case name without domain (`presta.maint`).
    pub name: String,
    pub domains: Vec<String>,
    pub kind: AccountKind,
    /// `assets` or `inferred`.
    pub kind_source: String,
    pub privileged: bool,
    pub privileged_reason: Option<String>,
    pub compromised: Compromise,
    pub compromise_reasons: Vec<String>,
    /// Hosts it logged on to or acted on.
    pub hosts: Vec<String>,
    pub source_addresses: Vec<String>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub first_malicious: Option<Timestamp>,
    pub last_malicious: Option<Timestamp>,
    /// Created (4720) during the attack period.
    pub created_during_attack: bool,
    /// Accounts that created it (4720 `SubjectUserName`).
    #[serde(default)]
    pub created_by: Vec<String>,
    /// Groups it was added to (4728/4732/4756).
    pub added_to_groups: Vec<String>,
    pub detections: u64,
    pub incidents: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// A source address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub address: String,
    pub kind: AddressKind,
    /// Host it belongs to, if known (assets or workstation names in logons).
    pub host: Option<String>,
    /// Hosts it logged on to / connected to.
    pub targets: Vec<String>,
    pub accounts: Vec<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub logons: u64,
    pub failed_logons: u64,
    /// Used by an implicated account or in an incident.
    pub implicated: bool,
    pub evidence: Vec<Evidence>,
}

/// How one host reached another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkMethod {
    /// Remote desktop (4624 type 10, RDP 1149/21/25).
    Rdp,
    /// PsExec-style remote service (7045 PSEXESVC..., ADMIN$ + svcctl).
    Psexec,
    /// Access to ADMIN$/C$ (5145/5140).
    SmbAdminShare,
    /// Network logon (4624 type 3).
    LogonType3,
    /// Explicit credentials (4648).
    ExplicitCreds,
    /// VPN session (firewall logs).
    Vpn,
    Winrm,
    Wmi,
    /// Remote scheduled task (ATSVC, 4698 over the network).
    RemoteTask,
    /// Remote service creation (svcctl, or a service installed right
    /// after a network logon) not recognised as PsExec.
    RemoteService,
    /// DCOM: an Office application or MMC started by DcomLaunch
    /// (`-Embedding`) for a remote account.
    Dcom,
}

/// An edge of the lateral-movement graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// `L1`, `L2`...
    pub id: String,
    /// Source host, or address when the host is unknown.
    pub from: String,
    /// Source address, when known.
    pub from_address: Option<String>,
    pub from_kind: AddressKind,
    pub to: String,
    pub account: Option<String>,
    pub method: LinkMethod,
    pub first: Timestamp,
    pub last: Timestamp,
    pub count: u64,
    /// Part of the attack (implicated account, host or address, in the attack period).
    pub malicious: bool,
    pub evidence: Vec<Evidence>,
}

/// A process of interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub host: String,
    pub time: Option<Timestamp>,
    pub image: String,
    pub command_line: Option<String>,
    pub user: Option<String>,
    pub process_id: Option<String>,
    /// Parent images, nearest first (`cmd.exe`, `explorer.exe`...), as far
    /// as the logs allow.
    pub parent_chain: Vec<String>,
    /// The chain stops at a parent not held, in a log whose creations
    /// older than `vigie serve`'s horizon were forgotten: the parent may be
    /// one of them (its creation event is then in the store: search,
    /// retro-hunt), so the chain is not said to be all the logs show.
    /// Never set by `hunt`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parent_beyond_horizon: bool,
    pub parent_command_line: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

/// A service installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceInstall {
    pub host: String,
    pub time: Option<Timestamp>,
    pub name: String,
    pub image_path: Option<String>,
    pub account: Option<String>,
    /// Looks like remote execution (PsExec and clones) or a remote-access tool.
    pub suspicious: bool,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

/// A scheduled task created or updated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledTask {
    pub host: String,
    pub time: Option<Timestamp>,
    pub name: String,
    pub command: Option<String>,
    pub account: Option<String>,
    /// 4698 created, 4702 updated, ...
    pub action: String,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

/// A domain contacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domain {
    pub domain: String,
    pub hosts: Vec<String>,
    pub processes: Vec<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub count: u64,
    /// Why it is of interest: rule titles or a known category
    /// (`file_sharing`, `remote_access`).
    pub reasons: Vec<String>,
    pub evidence: Vec<Evidence>,
}

/// A file of interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileOfInterest {
    pub host: String,
    pub path: String,
    pub time: Option<Timestamp>,
    pub process: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

/// Kind of data-exposure activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureActivity {
    /// Files packed into an archive (rar, 7z, zip).
    Archive,
    /// Files copied in bulk (robocopy, xcopy).
    Copy,
    /// Files sent to a cloud or remote service (rclone, megacmd, curl).
    Upload,
    /// Share accessed by an implicated account.
    ShareAccess,
    /// Large outbound transfer in firewall logs.
    Transfer,
}

/// Data that was touched, and possibly left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataExposure {
    /// Data store name from the assets file, if tied to one.
    pub store: Option<String>,
    pub host: Option<String>,
    pub activity: ExposureActivity,
    /// Tool (`rar.exe`, `rclone.exe`) when a process did it.
    pub tool: Option<String>,
    pub description: String,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Destinations (remote names, domains, external addresses).
    pub destinations: Vec<String>,
    /// Bytes sent out, when firewall logs say.
    pub bytes_out: Option<u64>,
    pub probable_exfiltration: bool,
    pub personal_data: bool,
    pub sensitivity: Option<Sensitivity>,
    pub evidence: Vec<Evidence>,
}

/// Log coverage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// Gaps between events longer than this are reported as silences.
    pub silence_threshold_secs: u64,
    pub channels: Vec<ChannelCoverage>,
}

/// A range of missing record ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordGap {
    /// Last record id present before the gap.
    pub after: u64,
    /// First record id present after the gap.
    pub before: u64,
    /// `before - after - 1`.
    pub missing: u64,
}

/// A cleared log (Security 1102, System 104).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClearedLog {
    pub time: Option<Timestamp>,
    /// Channel that was cleared (104 names it; 1102 clears Security).
    pub cleared_channel: String,
    pub account: Option<String>,
    pub evidence: Evidence,
}

/// A silence: no event for longer than the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub from: Timestamp,
    pub to: Timestamp,
    pub seconds: u64,
}

/// Coverage of one (host, channel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelCoverage {
    pub host: String,
    pub channel: String,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub events: u64,
    pub first_record: Option<u64>,
    pub last_record: Option<u64>,
    pub record_gaps: Vec<RecordGap>,
    pub cleared: Vec<ClearedLog>,
    pub silences: Vec<Silence>,
}

/// Reached / not reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneReach {
    Reached,
    NotReached,
    /// Not enough logs to say.
    Unknown,
}

/// Statement about a critical or isolated zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneStatus {
    pub zone: String,
    pub critical: bool,
    pub isolated: bool,
    /// Hosts of the zone (assets entries and hosts seen matching them).
    pub hosts: Vec<String>,
    pub status: ZoneReach,
    /// One sentence: why.
    pub reason: String,
    /// Logs that cover the zone over the period considered.
    pub coverage: Vec<String>,
    /// Contacts with the zone (or, for `reached`, the attacker's).
    pub evidence: Vec<Evidence>,
}

/// Kind of containment action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Cut the account's remote (VPN) access.
    RevokeRemoteAccess,
    DisableAccount,
    /// Delete an account the attacker created.
    DeleteAccount,
    ResetPassword,
    IsolateHost,
    BlockAddress,
    BlockDomain,
    RemoveService,
    /// Reset the krbtgt password twice (domain controller compromised).
    ResetKrbtgt,
    /// Collect the logs of a host the attacker reached but that sent none.
    CollectLogs,
}

/// A containment action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// 1 is the most urgent.
    pub priority: u32,
    pub kind: ActionKind,
    pub target: String,
    pub reason: String,
    pub evidence: Vec<Evidence>,
    /// How to undo it, in one sentence.
    #[serde(default)]
    pub undo: String,
}

/// Status of a citizen service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Affected,
    Degraded,
    Unaffected,
    Unknown,
}

/// A citizen service and whether the attack touched it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub service: String,
    pub description: Option<String>,
    pub status: ServiceState,
    /// Hosts that cause the status (compromised or without logs).
    pub hosts: Vec<String>,
    pub reason: String,
}

/// One rule's detections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCount {
    pub rule_id: Option<String>,
    pub title: String,
    pub level: Option<Level>,
    pub tags: Vec<String>,
    pub count: u64,
    pub hosts: Vec<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
}

/// A correlation rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationHit {
    pub rule_id: Option<String>,
    pub title: String,
    pub level: Option<Level>,
    pub group: Vec<(String, String)>,
    pub first: Timestamp,
    pub last: Timestamp,
    pub value: f64,
}

/// Detection counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionSummary {
    pub total: u64,
    pub by_level: LevelCounts,
    /// Detections of level >= medium (or signals), which drive the scope.
    pub signals: u64,
    /// Per rule, by decreasing level then count.
    pub rules: Vec<RuleCount>,
    pub correlations: Vec<CorrelationHit>,
}

// ---------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------

/// What the scope concludes, as a machine-readable verdict.
///
/// Why four values and not "attack / no attack": nothing found in logs that
/// cannot show an attack (no domain controller, no process creation, a
/// cleared log) is not an all-clear, and saying so is the point.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// An attack with defining evidence (a nature of medium or high
    /// confidence, or a host compromised on several independent pieces).
    Attack,
    /// Signals, but too weak or too isolated to call it an attack.
    Suspicious,
    /// No signal, but the logs do not cover enough to say there is none.
    #[default]
    NothingFoundWithGaps,
    /// No signal, and the logs cover domain controllers, process creation
    /// and the observed period without gap or clearing.
    NothingFound,
}

/// The verdict with its reasons and the extent of the analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub verdict: Verdict,
    /// Why this verdict (sentences in the scope's language).
    pub reasons: Vec<String>,
    /// What was analysed: events, hosts, channels, period, rules.
    pub analysed: Vec<String>,
    /// What was not, or not completely: missing logs, gaps, clearings,
    /// unread input.
    pub not_analysed: Vec<String>,
}

/// What the run knew that the observer cannot see: the rules and the
/// input's fate. Given by the driver (`hunt`, `serve`) with
/// [`crate::Observer::with_run_info`]; unknown parts are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Rules compiled (detection and correlation).
    pub rules: Option<u64>,
    /// Rule sets used (`Vigie pack`, a `--rules` path…).
    pub rule_sets: Vec<String>,
    /// Input files read.
    pub files: Option<u64>,
    /// Files not read or only partly read.
    pub files_not_fully_read: Option<u64>,
    /// Records skipped (damaged, unparsable).
    pub records_skipped: Option<u64>,
}

// ---------------------------------------------------------------------------
// Credential attacks
// ---------------------------------------------------------------------------

/// Kind of attack on credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialAttackKind {
    /// Failed logons on many accounts from one source.
    PasswordSpray,
    /// Many failed logons on one account from one source.
    BruteForce,
    /// RC4 service tickets requested for several user accounts with an SPN.
    Kerberoasting,
}

/// Outcome for one targeted account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Only failures were logged.
    Failed,
    /// A successful logon or ticket from the same source followed.
    Succeeded,
    /// A service ticket was obtained (its password can be cracked offline).
    TicketObtained,
}

/// One account targeted by a credential attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialTarget {
    pub account: String,
    pub outcome: AttemptOutcome,
    /// Failed attempts (or tickets requested, for Kerberoasting).
    pub attempts: u64,
    /// When the success (or the ticket) came.
    pub succeeded_at: Option<Timestamp>,
    pub evidence: Vec<Evidence>,
}

/// A password spray, brute force or Kerberoasting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialAttack {
    pub kind: CredentialAttackKind,
    /// Source address or host (for Kerberoasting: the client address).
    pub source: String,
    /// Host of the source, when known.
    pub source_host: Option<String>,
    /// Account that requested the tickets (Kerberoasting).
    pub by_account: Option<String>,
    /// Hosts (domain controllers, servers) that logged the attempts.
    pub logged_by: Vec<String>,
    pub first: Timestamp,
    pub last: Timestamp,
    pub targets: Vec<CredentialTarget>,
    /// One sentence.
    pub description: String,
    pub evidence: Vec<Evidence>,
}
