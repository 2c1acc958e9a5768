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
    let max = crate::model::MAX_MBPS;
    let text = match value {
        Value::Float(f) if *f > max as f64 => {
            return format!("{what} {f} is above 100T ({max} Mbps), the most Switchboard plans for");
        }
        Value::Str(s) => s.trim().to_string(),
        // `{:?}` keeps a whole float's ".0": 1000.0 is refused for how it is written.
        Value::Float(f) => format!("{f:?}"),
        Value::Int(i) => i.to_string(),
        other => return format!("{what} must be Mbps or a rate such as \"100M\", \"10G\", found {}", other.describe()),
    };
    let (num, mult): (&str, u128) = match text.char_indices().last() {
        Some((i, 'M' | 'm')) => (text.get(..i).unwrap_or_default(), 1),
        Some((i, 'G' | 'g')) => (text.get(..i).unwrap_or_default(), 1_000),
        Some((i, 'T' | 't')) => (text.get(..i).unwrap_or_default(), 1_000_000),
        _ => (text.as_str(), 1),
    };
    let Some((whole, rest)) = decimal(num.trim()) else {
        return format!(
            "{what} {text:?} must be a positive number of Mbps, or a rate such as \"100M\", \"10G\", \"1T\""
        );
    };
    // The rate in Mbps is (whole * mult) + rest * mult / scale, worked out exactly.
    let (rest, scale) = rest;
    let scaled = whole.saturating_mul(scale).saturating_add(rest).saturating_mul(mult);
    let (floor, fraction) = (scaled / scale, scaled % scale);
    if floor > u128::from(max) || (floor == u128::from(max) && fraction > 0) {
        format!("{what} {text:?} is above 100T ({max} Mbps), the most Switchboard plans for")
    } else if floor == 0 && fraction == 0 {
        format!("{what} {text:?} must be a positive number of Mbps, or a rate such as \"100M\", \"10G\", \"1T\"")
    } else if floor == 0 {
        format!("{what} {text:?} is under 1 Mbps, the least Switchboard plans: write \"1M\" or more")
    } else if fraction == 0 {
        format!("{what} {text:?} is a whole number of Mbps written with a point: write \"{floor}M\"")
    } else {
        format!("{what} {text:?} is not whole Mbps: write \"{floor}M\" or \"{}M\"", floor + 1)
    }
}

/// `DIGITS[.DIGITS]` as (whole part, (fraction's digits as a number, 10^their count)); at
/// most 30 digits either side. Anything else (a sign, an exponent, "inf") is `None`.
fn decimal(text: &str) -> Option<(u128, (u128, u128))> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.len() <= 30 && s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let number = |s: &str| if s.is_empty() { Some(0) } else { s.parse::<u128>().ok() };
    let scale = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    Some((number(whole)?, (number(fraction)?, scale)))
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
            "`capacity` \"1.5G\" is a whole number of Mbps written with a point: write \"1500M\""
        );
        // Exactly, where a binary fraction would not be: 2.01G is 2010 Mbps.
        assert!(says(Value::Str("2.01G".into())).ends_with("write \"2010M\""), "{}", says(Value::Str("2.01G".into())));
        assert!(
            says(Value::Float(1000.0))
                .ends_with("\"1000.0\" is a whole number of Mbps written with a point: write \"1000M\"")
        );
        assert!(says(Value::Str("inf".into())).contains("must be a positive number of Mbps"));
        assert!(says(Value::Str("100.5T".into())).contains("is above 100T"));
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
