//! Rates as the files write them: Mbps, or "100M", "10G", "1T".

use crate::topology::yaml::Value;

/// A rate written as Mbps, or with a unit: "100M", "10G", "1T" (positive; no range check).
pub fn parse_mbps(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'M' | 'm')) => (&s[..i], 1),
        Some((i, 'G' | 'g')) => (&s[..i], 1_000),
        Some((i, 'T' | 't')) => (&s[..i], 1_000_000),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok().filter(|n| *n > 0).and_then(|n| n.checked_mul(mult))
}

/// What is wrong with `value` as a rate (`what`: "`capacity`", "`bandwidth`"), said so it
/// can be mended: a fraction gets the whole Mbps to write instead ("1.5G": write "1500M").
pub fn rate_problem(what: &str, value: &Value) -> String {
    let text = match value {
        Value::Str(s) => s.trim().to_string(),
        Value::Float(f) => f.to_string(),
        Value::Int(i) => i.to_string(),
        other => return format!("{what} must be Mbps or a rate such as \"100M\", \"10G\", found {}", other.describe()),
    };
    let (num, mult) = match text.char_indices().last() {
        Some((i, 'M' | 'm')) => (text.get(..i).unwrap_or_default(), 1.0),
        Some((i, 'G' | 'g')) => (text.get(..i).unwrap_or_default(), 1e3),
        Some((i, 'T' | 't')) => (text.get(..i).unwrap_or_default(), 1e6),
        _ => (text.as_str(), 1.0),
    };
    let max = crate::model::MAX_MBPS;
    match num.trim().parse::<f64>().map(|n| n * mult) {
        Ok(m) if m.is_finite() && m > max as f64 => {
            format!("{what} {text:?} is above 100T ({max} Mbps), the most Switchboard plans for")
        }
        Ok(m) if m >= 1.0 && m.fract() == 0.0 => {
            format!("{what} {text:?} is not a whole number of Mbps as written: write \"{m}M\"")
        }
        Ok(m) if m >= 1.0 => {
            format!("{what} {text:?} is not whole Mbps: write \"{}M\" or \"{}M\"", m.floor(), m.ceil())
        }
        Ok(m) if m > 0.0 => {
            format!("{what} {text:?} is under 1 Mbps, the least Switchboard plans: write \"1M\" or more")
        }
        _ => format!("{what} {text:?} must be a positive number of Mbps, or a rate such as \"100M\", \"10G\", \"1T\""),
    }
}

#[cfg(test)]
mod tests {
    use super::rate_problem;
    use crate::topology::yaml::Value;

    #[test]
    fn a_rate_that_is_not_whole_mbps_is_told_what_to_write() {
        let says = |v: Value| rate_problem("`capacity`", &v);
        assert_eq!(
            says(Value::Str("1.5G".into())),
            "`capacity` \"1.5G\" is not a whole number of Mbps as written: write \"1500M\""
        );
        assert_eq!(says(Value::Float(2.5)), "`capacity` \"2.5\" is not whole Mbps: write \"2M\" or \"3M\"");
        assert_eq!(
            says(Value::Str("0.5M".into())),
            "`capacity` \"0.5M\" is under 1 Mbps, the least Switchboard plans: write \"1M\" or more"
        );
        assert!(says(Value::Float(1e21)).contains("is above 100T (100000000 Mbps)"));
        assert!(says(Value::Str("101T".into())).contains("is above 100T"));
        assert!(says(Value::Int(-5)).contains("must be a positive number of Mbps"));
        assert!(says(Value::Str("fast".into())).contains("must be a positive number of Mbps"));
        assert!(says(Value::Bool(true)).contains("found a boolean"));
    }
}
