//! Words for people: prices, limits, traffic, times and channel kinds as the portal's pages
//! show them, and the links they write (percent-encoded; after login, local only). Pure
//! functions, tested here.

use crate::model::{ChannelKind, utc_minute as when};
use crate::orchestrator::policy::UsageModel;

pub fn when_opt(ms: Option<i64>) -> String {
    ms.map(when).unwrap_or_default()
}

pub fn kind_label(kind: ChannelKind) -> &'static str {
    kind.label()
}

/// A usage model's price, in words.
pub fn price(m: &UsageModel) -> String {
    crate::orchestrator::policy::price_words(m)
}

/// A usage model's restrictions, in words.
pub fn limits(m: &UsageModel) -> String {
    let mut out = Vec::new();
    if let Some(b) = m.max_bandwidth_mbps {
        out.push(format!("up to {b} Mbps"));
    }
    if let Some(n) = m.max_endpoints {
        out.push(format!("up to {n} members"));
    }
    if let Some((a, b)) = m.window {
        out.push(format!("{:02}:{:02}-{:02}:{:02} UTC only", a / 60, a % 60, b / 60, b % 60));
    }
    if let Some(t) = m.term_end_ms {
        out.push(format!("ends {}", when(t)));
    }
    if let Some(g) = m.max_gb {
        out.push(format!("up to {g} per member"));
    }
    out.join(", ")
}

/// Bytes as people read them (decimal units), "—" for none.
pub fn traffic(bytes: u64) -> String {
    match bytes {
        0 => "—".into(),
        b if b < 1_000_000 => format!("{} kB", b.div_ceil(1000)),
        b if b < 1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b => format!("{:.2} GB", b as f64 / 1e9),
    }
}

/// Percent-encodes a path or query value (RFC 3986's unreserved characters and `/` stay).
pub fn urlencode(s: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');
    utf8_percent_encode(s, KEEP).to_string()
}

/// Where to go after logging in: only paths on this site.
pub fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and newlines from a URL, so `/\t/evil.example` would become
    // `//evil.example`: no control characters or spaces at all.
    let plain = !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if plain && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/channels" }
}

/// A channel's VLAN as a page shows it (an E-Tree's with its leaf VLAN).
pub fn vlan_text(c: &crate::service::ChannelView) -> String {
    match (c.vlan, c.leaf_vlan) {
        (Some(v), Some(l)) => format!("{v} (leaves {l})"),
        (Some(v), None) => v.to_string(),
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orchestrator::policy::PriceType;

    #[test]
    fn prices_and_limits_in_words() {
        let m = UsageModel {
            name: "m".into(),
            price_type: Some(PriceType::FlatMonthly),
            price_cents: 4_905,
            max_bandwidth_mbps: Some(100),
            window: Some((8 * 60, 18 * 60 + 30)),
            max_gb: Some(crate::orchestrator::policy::Quota::gb(5)),
            ..Default::default()
        };
        assert_eq!(price(&m), "49.05 per month");
        assert_eq!(limits(&m), "up to 100 Mbps, 08:00-18:30 UTC only, up to 5 GB per member");
        assert_eq!(
            [0, 450_000, 1_050_000, 12_345_678_901].map(traffic),
            ["—", "450 kB", "1.1 MB", "12.35 GB"].map(String::from)
        );
        assert_eq!(price(&UsageModel::default()), "free");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/invitations/abc"), "/invitations/abc");
        assert_eq!(safe_next("https://evil.example/"), "/channels");
        assert_eq!(safe_next("//evil.example/"), "/channels");
        assert_eq!(safe_next("/\\evil.example"), "/channels");
        assert_eq!(safe_next("/\t/evil.example"), "/channels");
        assert_eq!(safe_next("/\n/evil.example"), "/channels");
        assert_eq!(safe_next(""), "/channels");
    }

    #[test]
    fn path_values_are_percent_encoded() {
        assert_eq!(urlencode("/channels/ch-1?x=a b&c"), "/channels/ch-1%3Fx%3Da%20b%26c");
        assert_eq!(urlencode("ü~._-"), "%C3%BC~._-");
    }
}
