//! Value types shared by every layer: VLAN IDs, MAC addresses, channel kinds and roles,
//! interface modes, and source positions; who acts (`actor`), what an organization
//! chose (`policy`), the order and attachment records (`records`), the ids a client names
//! (`id`: parsed at the edge, so one that cannot exist reaches no query), and the rule every
//! text a person sends is held to (`text`).
//!
//! Everything here validates on construction and does no I/O, so the pure core
//! (`topology`, `orchestrator`) can trust a value once it holds one.

/// The impls a `String` newtype checked by its `FromStr` shares (ids in `id.rs`, text in
/// `text.rs`): read from JSON or a form through that check, seen as `str`, shown as is.
macro_rules! checked_string {
    ($name:ident) => {
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// The OpenAPI schema of a checked string: as much of its `FromStr` as a schema can say
/// (the pattern and the length in characters), so a client or a fuzzer knows what is
/// refused before it sends it.
fn string_schema(
    description: &str,
    pattern: &str,
    min: usize,
    max: usize,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .min_length(Some(min))
        .max_length(Some(max))
        .build()
        .into()
}

pub mod actor;
pub mod id;
pub mod people;
pub mod policy;
pub mod records;
pub mod strict;
pub mod text;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An 802.1Q VLAN identifier, 1..=4094 (0 and 4095 are reserved by the standard).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct VlanId(u16);

impl VlanId {
    pub const MIN: u16 = 1;
    pub const MAX: u16 = 4094;

    /// Returns `None` outside 1..=4094.
    pub fn new(id: u16) -> Option<VlanId> {
        (Self::MIN..=Self::MAX).contains(&id).then_some(VlanId(id))
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for VlanId {
    type Error = String;
    fn try_from(id: u16) -> Result<Self, Self::Error> {
        VlanId::new(id).ok_or_else(|| format!("VLAN {id} is outside 1-4094"))
    }
}

impl From<VlanId> for u16 {
    fn from(v: VlanId) -> u16 {
        v.0
    }
}

impl fmt::Display for VlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An Ethernet MAC address of customer equipment. Only unicast addresses are accepted,
/// since a static FDB entry for a group or all-zero address would be meaningless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub fn octets(self) -> [u8; 6] {
        self.0
    }
}

/// Why a string is not a usable MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    #[error("invalid MAC address {0:?}: expected six hex octets like 02:00:5e:10:00:01")]
    Syntax(String),
    #[error("MAC address {0} is a multicast/broadcast address: a service interface needs a unicast MAC")]
    Multicast(String),
    #[error("MAC address 00:00:00:00:00:00 is not a usable address")]
    Zero,
}

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Mac, MacError> {
        let bad = || MacError::Syntax(s.to_string());
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut octets = [0u8; 6];
        let mut n = 0;
        for part in s.split(sep) {
            let slot = octets.get_mut(n).ok_or_else(bad)?;
            if part.len() != 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
            n += 1;
        }
        if n != 6 {
            return Err(bad());
        }
        let mac = Mac(octets);
        if octets == [0; 6] {
            return Err(MacError::Zero);
        }
        if octets[0] & 1 == 1 {
            return Err(MacError::Multicast(mac.to_string()));
        }
        Ok(mac)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The three MEF service types a channel can be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// E-Line: exactly two members.
    P2p,
    /// E-Tree: roots and leaves; leaves never reach each other.
    P2mp,
    /// E-LAN: any member reaches any other.
    Mp2mp,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::P2p => "p2p",
            ChannelKind::P2mp => "p2mp",
            ChannelKind::Mp2mp => "mp2mp",
        }
    }

    /// The MEF name people know it by: E-Line, E-Tree, E-LAN.
    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::P2p => "E-Line",
            ChannelKind::P2mp => "E-Tree",
            ChannelKind::Mp2mp => "E-LAN",
        }
    }
}

impl FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "p2p" => Ok(ChannelKind::P2p),
            "p2mp" => Ok(ChannelKind::P2mp),
            "mp2mp" => Ok(ChannelKind::Mp2mp),
            _ => Err(format!("unknown channel kind {s:?}: expected p2p, p2mp or mp2mp")),
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's role in an E-Tree. Members of other kinds are all `Root`, which is what
/// "reaches every other member" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Root,
    Leaf,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Leaf => "leaf",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "root" => Ok(Role::Root),
            "leaf" => Ok(Role::Leaf),
            _ => Err(format!("unknown role {s:?}: expected root or leaf")),
        }
    }
}

/// How a service interface hands channels to the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceMode {
    /// One channel, untagged (MEF EPL / EP-LAN).
    Port,
    /// Many channels, one customer VLAN tag each (MEF EVPL / EVP-LAN).
    Tagged,
}

impl InterfaceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceMode::Port => "port",
            InterfaceMode::Tagged => "tagged",
        }
    }
}

impl FromStr for InterfaceMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "port" => Ok(InterfaceMode::Port),
            "tagged" => Ok(InterfaceMode::Tagged),
            _ => Err(format!("unknown interface mode {s:?}: expected port or tagged")),
        }
    }
}

/// A position in a source file, 1-based line and column, as editors count them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A problem in an input file, at a position. `Display` gives `LINE:COL: message`;
/// the CLI prefixes the file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
}

impl Diagnostic {
    pub fn new(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic { pos, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// The largest capacity or bandwidth Switchboard plans for, in Mbps: 100 Tbit/s, far above
/// any port, and small enough that every rate in bits per second (a policer's) fits.
pub const MAX_MBPS: u64 = 100_000_000;

/// Checks a Linux network interface name: 1-15 bytes of letters, digits and `-_.@+=`, not
/// starting with `-`, not "." or "..". Linux itself refuses only '/', ':', whitespace and
/// NUL, but these names are printed into iproute2 commands (`plan`) that people paste into
/// a shell, so nothing a shell reads specially (`$`, `;`, `&`, `|`, `>`, quotes, ...) and
/// nothing `ip` would take for an option. Returns why not, so callers can report it.
pub fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".into());
    }
    if name.len() > 15 {
        return Err(format!("interface name {name:?} is {} bytes long: Linux allows at most 15", name.len()));
    }
    if name == "." || name == ".." {
        return Err(format!("interface name {name:?} is not allowed"));
    }
    if let Some(c) = name.chars().find(|c| *c == '/' || *c == ':' || c.is_whitespace() || *c == '\0') {
        return Err(format!("interface name {name:?} contains {c:?}, which Linux does not allow"));
    }
    check_shell_safe(name, "interface name")
}

/// Checks a network namespace's name as [`check_ifname`] checks an interface's (the same
/// characters), at most 64 bytes.
pub fn check_netns(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || name == "." || name == ".." {
        return Err(format!("namespace name {name:?} is not usable: 1-64 bytes, not \".\" or \"..\""));
    }
    check_shell_safe(name, "namespace name")
}

/// Letters, digits and `-_.@+=` only, not starting with `-`.
fn check_shell_safe(name: &str, what: &str) -> Result<(), String> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.@+=".contains(c);
    if let Some(c) = name.chars().find(|c| !safe(*c)) {
        return Err(format!(
            "{what} {name:?} contains {c:?}: use letters, digits and -_.@+= (names go into shell commands)"
        ));
    }
    if name.starts_with('-') {
        return Err(format!("{what} {name:?} starts with '-', which `ip` would read as an option"));
    }
    Ok(())
}

/// A time in Unix ms as people read it, `YYYY-MM-DD HH:MM UTC` (pages, email).
pub fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_795_452_962_431), "2026-11-23 16:56 UTC");
        assert_eq!(utc_minute(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn mac_parses_and_prints_lowercase() {
        let mac: Mac = "02:AB:00:00:00:0f".parse().unwrap();
        assert_eq!(mac.to_string(), "02:ab:00:00:00:0f");
        let dashed: Mac = "02-ab-00-00-00-0f".parse().unwrap();
        assert_eq!(mac, dashed);
    }

    #[test]
    fn mac_rejects_garbage_group_and_zero() {
        for bad in
            ["", "02:00:00:00:00", "02:00:00:00:00:00:00", "0g:00:00:00:00:01", "2:0:0:0:0:1", "02:00:00:00:00:1ff"]
        {
            assert!(matches!(bad.parse::<Mac>(), Err(MacError::Syntax(_))), "{bad}");
        }
        assert!(matches!("01:00:5e:00:00:01".parse::<Mac>(), Err(MacError::Multicast(_))));
        assert!(matches!("ff:ff:ff:ff:ff:ff".parse::<Mac>(), Err(MacError::Multicast(_))));
        assert_eq!("00:00:00:00:00:00".parse::<Mac>(), Err(MacError::Zero));
    }

    #[test]
    fn vlan_range() {
        assert!(VlanId::new(0).is_none());
        assert!(VlanId::new(4095).is_none());
        assert_eq!(VlanId::new(1).unwrap().get(), 1);
        assert_eq!(VlanId::new(4094).unwrap().get(), 4094);
    }

    #[test]
    fn ifnames() {
        assert!(check_ifname("eth0").is_ok());
        assert!(check_ifname("p1.4094").is_ok());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a-very-long-name0").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a b").is_err());
    }

    /// Names are printed into shell commands: nothing a shell or `ip` reads specially.
    #[test]
    fn names_are_safe_in_shell_commands() {
        for ok in ["swp1", "eth0.100", "veth_a-b", "uplink@1", "x+y=z"] {
            assert!(check_ifname(ok).is_ok(), "{ok}");
            assert!(check_netns(ok).is_ok(), "{ok}");
        }
        for bad in ["t;id>x", "c&id", "a$b", "a`b", "a|b", "a'b", "a\"b", "a(b)", "a*", "-e", "a\\b", "é"] {
            assert!(check_ifname(bad).is_err(), "{bad}");
            assert!(check_netns(bad).is_err(), "{bad}");
        }
        assert!(check_netns("ns$(id)").unwrap_err().contains("'$'"));
        assert!(check_netns(&"n".repeat(64)).is_ok());
        assert!(check_netns(&"n".repeat(65)).is_err());
        assert!(check_netns("..").is_err());
    }
}
