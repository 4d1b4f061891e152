//! "did you mean X?" hints, as BuildKit adds them to unknown names: the
//! closest candidate within an edit distance of 2.

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `options` to `value`, if one is close enough and not
/// equal (an exact match means the error is about something else). When
/// not case-sensitive the suggestion follows the case of `value`.
pub fn closest(value: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let norm = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let v = norm(value);
    let mut best: Option<(usize, String)> = None;
    for opt in options {
        let o = norm(opt);
        if o == v {
            return None;
        }
        let d = distance(&v, &o);
        if d < 3 && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, o));
        }
    }
    best.map(|(_, o)| {
        if case_sensitive || value != value.to_uppercase() {
            o
        } else {
            o.to_uppercase()
        }
    })
}

/// `message` with BuildKit's hint appended when there is one.
pub fn with_hint(message: String, value: &str, options: &[&str], case_sensitive: bool) -> String {
    match closest(value, options, case_sensitive) {
        Some(s) => format!("{message} (did you mean {s}?)"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        assert_eq!(
            closest("RUNN", &["run", "from"], false).as_deref(),
            Some("RUN")
        );
        assert_eq!(
            closest("frm", &["run", "from"], false).as_deref(),
            Some("from")
        );
        assert_eq!(closest("xyzzy", &["run", "from"], false), None);
        assert_eq!(closest("form", &["from"], true).as_deref(), Some("from"));
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
