//! The organisation of the scenario: CCPAB's hosts, addresses and accounts.
//!
//! The organisation does not depend on the seed: the seed drives activity,
//! while names and addresses stay stable so that documentation, rule packs
//! and tests can name `SRV-FIC01` or `presta.maint` directly.

use crate::Scale;

pub const DOMAIN: &str = "ccpab.local";
pub const NETBIOS: &str = "CCPAB";
pub const DOMAIN_SID: &str = "S-1-5-21-3412876509-1298437601-2784163395";
pub const FW_INSIDE_IP: &str = "10.0.0.1";
pub const ATTACKER_IP: &str = "203.0.113.45";
pub const ATTACKER_VPN_IP: &str = "10.212.134.11";
pub const ATTACKER_WORKSTATION: &str = "DESKTOP-4KQ7M2R";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Zone {
    Core,
    Servers,
    Aquatic,
    Workstations,
    Isolated,
    Edge,
}

impl Zone {
    pub fn name(self) -> &'static str {
        match self {
            Zone::Core => "core",
            Zone::Servers => "servers",
            Zone::Aquatic => "aquatic-centre",
            Zone::Workstations => "workstations",
            Zone::Isolated => "isolated",
            Zone::Edge => "edge",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub zone: Zone,
    pub ip: String,
    pub os: &'static str,
    pub role: String,
    /// Citizen services that depend on the host.
    pub services: Vec<&'static str>,
    /// Owner (workstations): the staff account that logs on.
    pub owner: Option<usize>,
    /// Machine account RID.
    pub rid: u32,
    /// Index in [`Org::hosts`].
    pub index: usize,
}

impl Host {
    /// `Computer` as Windows writes it: the FQDN for domain members, the
    /// bare name for TES-01 (not a domain member).
    pub fn computer(&self) -> String {
        if self.zone == Zone::Isolated || self.zone == Zone::Edge {
            self.name.clone()
        } else {
            format!("{}.{}", self.name, DOMAIN)
        }
    }
    pub fn is_windows_domain(&self) -> bool {
        !matches!(self.zone, Zone::Isolated | Zone::Edge)
    }
    pub fn is_server(&self) -> bool {
        matches!(self.zone, Zone::Core | Zone::Servers)
    }
    pub fn is_pc(&self) -> bool {
        self.zone == Zone::Workstations
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub sam: String,
    pub display: String,
    pub rid: u32,
    pub service: &'static str,
    /// Member of `Admins du domaine`.
    pub domain_admin: bool,
    pub kind: &'static str,
}

impl User {
    pub fn sid(&self) -> String {
        format!("{DOMAIN_SID}-{}", self.rid)
    }
    pub fn qualified(&self) -> String {
        format!("{NETBIOS}\\{}", self.sam)
    }
}

#[derive(Debug, Clone)]
pub struct Org {
    pub hosts: Vec<Host>,
    pub users: Vec<User>,
    /// Address of every workstation of the organisation, including those
    /// the small scale leaves out (admins connect from PC-INFO-02 even
    /// when its own logs are not generated).
    pub pc_ips: Vec<(String, String, usize)>,
}

/// (service code, number of PCs, citizen services).
const SERVICES: &[(&str, usize, &[&str])] = &[
    ("ACCUEIL", 16, &["accueil du public"]),
    ("ETATCIVIL", 8, &["état civil"]),
    ("URBA", 10, &["urbanisme"]),
    ("FIN", 14, &["finances et paie"]),
    ("RH", 10, &["finances et paie"]),
    ("CIAS", 20, &["action sociale (CIAS)"]),
    ("TECH", 26, &["services techniques"]),
    ("DG", 6, &["direction générale"]),
    ("COM", 5, &["communication"]),
    ("ENFANCE", 20, &["portail familles"]),
    ("CULTURE", 14, &["médiathèques"]),
    ("SPORT", 8, &["centre aquatique"]),
    ("EAU", 10, &["eau et assainissement"]),
    ("DECHETS", 10, &["collecte des déchets"]),
    ("INFO", 3, &["informatique"]),
];

const FIRST: &[&str] = &[
    "marie",
    "jean",
    "anne",
    "pierre",
    "sophie",
    "yann",
    "nathalie",
    "erwan",
    "isabelle",
    "loic",
    "catherine",
    "gwenael",
    "sylvie",
    "ronan",
    "christine",
    "thomas",
    "nolwenn",
    "julien",
    "valerie",
    "kevin",
    "sandrine",
    "mathieu",
    "celine",
    "nicolas",
    "laurence",
    "gael",
    "emilie",
    "francois",
    "aurelie",
    "tanguy",
    "morgane",
    "olivier",
    "helene",
    "maela",
    "patrick",
    "stephanie",
    "goulven",
    "claire",
    "herve",
    "soizic",
];
const LAST: &[&str] = &[
    "le-gall",
    "tanguy",
    "le-bihan",
    "kerlan",
    "morvan",
    "le-roux",
    "guillou",
    "quere",
    "le-goff",
    "bernard",
    "caradec",
    "pichon",
    "le-meur",
    "cloarec",
    "jezequel",
    "salaun",
    "abgrall",
    "kervella",
    "thomas",
    "le-floch",
    "martin",
    "premel",
    "riou",
    "gourmelon",
    "boucher",
    "le-corre",
    "nedelec",
    "stephan",
    "lozac-h",
    "calvez",
    "bothorel",
    "fily",
    "madec",
    "inizan",
    "queffelec",
    "le-berre",
    "donnart",
    "hascoet",
    "le-bras",
];

fn server(
    name: &str,
    zone: Zone,
    ip: &str,
    os: &'static str,
    role: &str,
    services: &[&'static str],
    rid: u32,
) -> Host {
    Host {
        name: name.into(),
        zone,
        ip: ip.into(),
        os,
        role: role.into(),
        services: services.to_vec(),
        owner: None,
        rid,
        index: 0,
    }
}

impl Org {
    /// The organisation at a scale: `Week` has every host, `Small` keeps all
    /// servers, the aquatic centre, TES-01 and one PC of nine services.
    pub fn build(scale: Scale) -> Org {
        const WS: &str = "Windows Server 2019 Standard";
        const W10: &str = "Windows 10 Pro 22H2";
        const ALL: &[&str] = &[
            "état civil",
            "finances et paie",
            "action sociale (CIAS)",
            "portail familles",
            "centre aquatique",
            "accueil du public",
            "urbanisme",
            "services techniques",
        ];
        let mut hosts = vec![
            server(
                "DC01",
                Zone::Core,
                "10.0.10.10",
                WS,
                "contrôleur de domaine ccpab.local",
                ALL,
                1000,
            ),
            server(
                "DC02",
                Zone::Core,
                "10.0.10.11",
                WS,
                "contrôleur de domaine ccpab.local",
                ALL,
                1001,
            ),
            server(
                "SRV-FIC01",
                Zone::Servers,
                "10.0.10.20",
                WS,
                "serveur de fichiers (partages CIAS, RH, Etat-civil)",
                &["état civil", "action sociale (CIAS)", "finances et paie"],
                1002,
            ),
            server(
                "SRV-APP01",
                Zone::Servers,
                "10.0.10.21",
                WS,
                "applications finances/RH, SQL Server",
                &["finances et paie"],
                1003,
            ),
            server(
                "SRV-SOC01",
                Zone::Servers,
                "10.0.10.22",
                WS,
                "dossiers sociaux du CIAS",
                &["action sociale (CIAS)"],
                1004,
            ),
            server(
                "SRV-BKP01",
                Zone::Servers,
                "10.0.10.23",
                WS,
                "sauvegardes (Veeam)",
                &["sauvegardes"],
                1005,
            ),
            server(
                "SRV-RDS01",
                Zone::Servers,
                "10.0.10.24",
                WS,
                "bureau à distance (accès VPN)",
                &["télétravail"],
                1006,
            ),
            server(
                "SRV-WEB01",
                Zone::Servers,
                "10.0.11.10",
                WS,
                "portail familles (cantine, accueil périscolaire)",
                &["portail familles"],
                1007,
            ),
            server(
                "AQUA-CAISSE01",
                Zone::Aquatic,
                "10.0.30.10",
                W10,
                "billetterie du centre aquatique",
                &["centre aquatique"],
                1008,
            ),
            server(
                "AQUA-ACCES01",
                Zone::Aquatic,
                "10.0.30.11",
                W10,
                "contrôle d'accès (tourniquets)",
                &["centre aquatique"],
                1009,
            ),
            server(
                "TES-01",
                Zone::Isolated,
                "172.31.200.10",
                "Windows 10 Enterprise LTSC",
                "station de recueil passeports / CNI (ligne sécurisée de l'État)",
                &["passeports et cartes d'identité"],
                0,
            ),
            server(
                "FW01",
                Zone::Edge,
                FW_INSIDE_IP,
                "FortiOS 7.2",
                "pare-feu FortiGate et VPN SSL (pool 10.212.134.0/24)",
                &["télétravail"],
                0,
            ),
        ];
        let mut users = vec![
            User {
                sam: "presta.maint".into(),
                display: "Prestataire Maintenance".into(),
                rid: 1104,
                service: "INFO",
                domain_admin: true,
                kind: "provider",
            },
            User {
                sam: "adm.tech01".into(),
                display: "Administrateur Technicien 1".into(),
                rid: 1105,
                service: "INFO",
                domain_admin: true,
                kind: "admin",
            },
            User {
                sam: "adm.tech02".into(),
                display: "Administrateur Technicien 2".into(),
                rid: 1106,
                service: "INFO",
                domain_admin: true,
                kind: "admin",
            },
            User {
                sam: "svc_veeam".into(),
                display: "Service Veeam".into(),
                rid: 1107,
                service: "INFO",
                domain_admin: false,
                kind: "service",
            },
            User {
                sam: "svc_sql".into(),
                display: "Service SQL".into(),
                rid: 1108,
                service: "INFO",
                domain_admin: false,
                kind: "service",
            },
        ];
        let mut pc_index = 0usize;
        let mut pc_ips = Vec::new();
        for (code, count, svcs) in SERVICES {
            for n in 1..=*count {
                let first = FIRST[(pc_index * 7 + 3) % FIRST.len()];
                let last = LAST[(pc_index * 11 + pc_index / LAST.len()) % LAST.len()];
                let sam = format!("{first}.{last}");
                let sam = if users.iter().any(|u| u.sam == sam) {
                    format!("{sam}{n}")
                } else {
                    sam
                };
                let uid = users.len();
                users.push(User {
                    display: sam.replace('.', " "),
                    sam,
                    rid: 1200 + pc_index as u32,
                    service: code,
                    domain_admin: false,
                    kind: "staff",
                });
                let keep = match scale {
                    Scale::Week => true,
                    Scale::Small => {
                        n == 1
                            && *code != "COM"
                            && *code != "CULTURE"
                            && *code != "SPORT"
                            && *code != "EAU"
                            && *code != "DECHETS"
                            && *code != "DG"
                    }
                };
                let pc_name = format!("PC-{code}-{n:02}");
                let pc_ip = format!("10.0.{}.{}", 20 + pc_index / 200, 10 + pc_index % 200);
                pc_ips.push((pc_name.clone(), pc_ip.clone(), uid));
                if keep {
                    hosts.push(Host {
                        name: pc_name,
                        zone: Zone::Workstations,
                        ip: pc_ip,
                        os: W10,
                        role: format!("poste de travail {code}"),
                        services: svcs.to_vec(),
                        owner: Some(uid),
                        rid: 1100 + 100 + pc_index as u32 + 1000,
                        index: 0,
                    });
                }
                pc_index += 1;
            }
        }
        for (i, h) in hosts.iter_mut().enumerate() {
            h.index = i;
        }
        Org {
            hosts,
            users,
            pc_ips,
        }
    }

    /// Address of a workstation of the organisation (any scale).
    pub fn pc_ip(&self, name: &str) -> &str {
        self.pc_ips
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, ip, _)| ip.as_str())
            .unwrap_or("10.0.20.250")
    }

    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("scenario host {name} is part of every scale"))
    }

    pub fn user(&self, sam: &str) -> &User {
        self.users
            .iter()
            .find(|u| u.sam == sam)
            .unwrap_or_else(|| panic!("scenario account {sam} exists"))
    }

    pub fn pcs(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.is_pc())
    }

    pub fn windows_servers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.is_server())
    }

    /// The domain controller that serves a host (DC01 or DC02, fixed per
    /// host so that its Kerberos traffic lands on one DC).
    pub fn dc_for(&self, host: &Host) -> &'static str {
        if host.index % 3 == 2 {
            "DC02"
        } else {
            "DC01"
        }
    }
}

/// A stable 64-bit hash (FNV-1a) for deriving per-host seeds and fake
/// hashes: `std`'s hasher is randomised per process, which would break
/// determinism.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Mixes a 64-bit value (SplitMix64 finaliser).
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
