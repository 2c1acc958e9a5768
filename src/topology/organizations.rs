//! Organizations: the topology's optional `organizations:` map, organization name -> who
//! may become its first admin (`contacts`: addresses, and `@domain` for any address of a
//! domain). The operator imports organizations with their ports; nobody is their user yet.
//! The first person to register for one from an invitation must be someone the operator
//! listed here, and must prove the address by a link mailed to it: the invitation's own
//! link is shown to whoever made it, so holding it proves nothing.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::yaml::{Node, Reader, Value};
use crate::model::Pos;

/// Organization name -> its contacts (lower-case addresses and `@domain`s), in name order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Organizations(BTreeMap<String, Vec<String>>);

impl Organizations {
    /// The contacts the topology gives `organization` (empty when it gives none).
    pub fn contacts(&self, organization: &str) -> &[String] {
        self.0.get(organization).map_or(&[], Vec::as_slice)
    }

    /// (organization, contacts) in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `email` is one of `contacts`: the address itself, or any address of a listed
/// `@domain` (that domain exactly: `@example.com` is not `@mail.example.com`). Case does not
/// matter.
pub fn is_contact(contacts: &[String], email: &str) -> bool {
    let email = email.trim().to_lowercase();
    let domain = email.rsplit_once('@').map(|(_, d)| d);
    contacts.iter().any(|c| match c.strip_prefix('@') {
        Some(d) => domain == Some(d),
        None => *c == email,
    })
}

/// The organization names a file uses, by their lower-case form: one organization is
/// spelled one way, since names are told apart in any case (a registration for `ACME` is
/// one for `acme`), and two spellings would make two organizations that read as one.
#[derive(Default)]
pub(super) struct Spellings(HashMap<String, (String, Pos, String)>);

impl Spellings {
    /// Records `name` as `whose` (at `pos`) spells it, or reports it when an earlier place
    /// spells it in another case.
    pub(super) fn check(&mut self, r: &mut Reader, name: &str, pos: Pos, whose: &str) {
        match self.0.entry(name.to_lowercase()) {
            Entry::Occupied(first) if first.get().0 != name => {
                let (spelled, at, by) = first.get();
                r.error(
                    pos,
                    format!(
                        "organization `{name}` of {whose} is `{spelled}` of {by} (at {at}) in another case: \
                         spell one organization one way"
                    ),
                );
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(v) => {
                v.insert((name.to_string(), pos, whose.to_string()));
            }
        }
    }
}

/// Reads `organizations: {NAME: {contacts: [ADDRESS | "@DOMAIN", ...]}, ...}`, reporting
/// each problem at its position, and each name spelled otherwise than in `spellings`.
pub(super) fn read(r: &mut Reader, node: &Node, spellings: &mut Spellings) -> Organizations {
    let mut out = Organizations::default();
    let entries = match &node.value {
        Value::Map(entries) => entries.as_slice(),
        Value::Null => &[],
        other => {
            r.error(
                node.pos,
                format!(
                    "`organizations` must be a mapping of organization name -> {{contacts: [...]}}, found {}",
                    other.describe()
                ),
            );
            return out;
        }
    };
    for (key, value) in entries {
        let Some(name) = r.string(key, "an organization name") else { continue };
        if name.trim().is_empty() {
            r.error(key.pos, "an organization name is empty");
            continue;
        }
        spellings.check(r, &name, key.pos, "`organizations`");
        let what = format!("organization `{name}`");
        let Some(mut fields) = r.map(value, &what) else { continue };
        let mut contacts = Vec::new();
        if let Some(list) = fields.require(r, "contacts", &what) {
            for item in r.seq(list, &format!("the contacts of {what}")) {
                let Some(text) = r.string(item, &format!("a contact of {what}")) else { continue };
                match contact(&text) {
                    Some(c) if !contacts.contains(&c) => contacts.push(c),
                    Some(c) => r.error(item.pos, format!("contact `{c}` of {what} is listed twice")),
                    None => r.error(
                        item.pos,
                        format!(
                            "contact {text:?} of {what} is neither an address (name@example.com) nor a domain \
                             (@example.com)"
                        ),
                    ),
                }
            }
        }
        fields.finish(r, &what, &["contacts"]);
        if out.0.insert(name.clone(), contacts).is_some() {
            r.error(key.pos, format!("{what} is listed twice"));
        }
    }
    out
}

/// A contact as kept: an address, or `@` and a domain, lower-case; `None` for neither.
fn contact(text: &str) -> Option<String> {
    let t = text.trim();
    match t.strip_prefix('@') {
        Some(domain) => {
            crate::model::text::email("a contact", &format!("x@{domain}"), 254).ok().map(|_| t.to_lowercase())
        }
        None => crate::model::text::email("a contact", t, 254).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organizations(text: &str) -> Result<Organizations, Vec<String>> {
        crate::topology::parsed(text, |t| t.organizations)
    }

    const BASE: &str = "name: t\nswitches: {s0: {}}\n";

    #[test]
    fn contacts_are_addresses_and_domains() {
        assert!(organizations(BASE).unwrap().is_empty());
        let o = organizations(&format!(
            "{BASE}organizations:\n  hooli: {{contacts: [Ops@Hooli.example, '@hooli.net']}}\n  globex: {{contacts: []}}\n"
        ))
        .unwrap();
        assert_eq!(o.contacts("hooli"), ["ops@hooli.example", "@hooli.net"]);
        assert!(o.contacts("globex").is_empty() && o.contacts("initech").is_empty());
        let hooli = o.contacts("hooli");
        assert!(is_contact(hooli, "OPS@hooli.example") && is_contact(hooli, "anyone@HOOLI.net"));
        for other in ["eve@hooli.example", "ops@hooli.example.evil", "x@mail.hooli.net", "x@evilhooli.net", "hooli.net"]
        {
            assert!(!is_contact(hooli, other), "{other}");
        }
    }

    #[test]
    fn bad_organizations_are_reported_where_they_are() {
        let e = organizations(&format!(
            "{BASE}organizations:\n  hooli:\n    contacts: [ops, '@', ops@h.example, OPS@h.example]\n    admins: 1\n  acme: {{}}\n"
        ))
        .unwrap_err();
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e[0].starts_with("5:16:") && e[0].contains("\"ops\" of organization `hooli` is neither"), "{e:?}");
        assert!(e[1].starts_with("5:21:") && e[1].contains("\"@\""), "{e:?}");
        assert!(e[2].starts_with("5:41:") && e[2].contains("listed twice"), "{e:?}");
        assert!(e[3].starts_with("6:5:") && e[3].contains("unknown key `admins`"), "{e:?}");
        assert!(e[4].starts_with("7:9:") && e[4].contains("organization `acme` is missing `contacts`"), "{e:?}");
        let iface = |name: &str, org: &str, port: &str, mac: u8| {
            format!(
                "  {name}: {{organization: {org}, switch: s0, port: {port}, capacity: 1G, macs: ['02:00:00:00:00:{mac:02x}']}}\n"
            )
        };
        let text = format!(
            "{BASE}interfaces:\n{}{}{}organizations:\n  ACME: {{contacts: []}}\n",
            iface("a", "acme", "p1", 1),
            iface("b", "acme", "p2", 2),
            iface("c", "Acme", "p3", 3)
        );
        let e = organizations(&text).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("6:3:") && e[0].contains("`Acme` of interface `c` is `acme` of interface `a` (at 4:3)"),
            "{e:?}"
        );
        assert!(e[1].starts_with("8:3:") && e[1].contains("`ACME` of `organizations` is `acme`"), "{e:?}");
        let e = organizations(&format!("{BASE}organizations: [hooli]\n")).unwrap_err();
        assert!(e[0].contains("`organizations` must be a mapping"), "{e:?}");
    }
}
