//! "Did you mean": the known names nearest a misspelt one, for every reader of the files.

/// ", did you mean `x`?" for the known name nearest `name` (", did you mean `x`, `y` or `z`?"
/// for up to three equally near), else "".
pub fn suggest(name: &str, known: &[&str]) -> String {
    let near: Vec<(usize, &str)> =
        known.iter().map(|k| (edit_distance(name, k), *k)).filter(|(d, k)| *d <= 2.max(k.len() / 4)).collect();
    let Some(best) = near.iter().map(|(d, _)| *d).min() else { return String::new() };
    // Names equally near are all named (up to three): picking one would be a guess.
    let mut nearest: Vec<&str> = near.iter().filter(|(d, _)| *d == best).map(|(_, k)| *k).collect();
    nearest.sort_unstable();
    nearest.dedup();
    match nearest.as_slice() {
        [one] => format!(", did you mean `{one}`?"),
        [first @ .., last] if nearest.len() <= 3 => {
            let first: Vec<String> = first.iter().map(|k| format!("`{k}`")).collect();
            format!(", did you mean {} or `{last}`?", first.join(", "))
        }
        _ => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}
