//! Instruction flags (`--from=x`, `--link`, repeated `--mount=...`) checked
//! against the flags an instruction accepts, with BuildKit's messages.

use std::collections::BTreeMap;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `--link`, `--link=true`, `--link=false`.
    Bool,
    /// `--from=x`, once.
    String,
    /// `--mount=...`, any number of times.
    Strings,
}

/// The values given, by flag name.
#[derive(Debug, Default)]
pub(super) struct Flags {
    values: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    /// Checks `args` against `accepted` (name, kind).
    pub(super) fn parse(
        args: &[String],
        accepted: &[(&'static str, Kind)],
    ) -> Result<Flags, String> {
        let mut flags = Flags::default();
        for a in args {
            if a == "--" {
                break;
            }
            let Some(body) = a.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {a}"));
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let flag_name = format!("--{name}");
            let Some(&(key, kind)) = accepted.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = accepted.iter().map(|(n, _)| *n).collect();
                return Err(super::suggest::with_hint(
                    format!("unknown flag: {flag_name}"),
                    name,
                    &names,
                    true,
                ));
            };
            if kind != Kind::Strings && flags.values.contains_key(key) {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            let value = match (kind, value) {
                (Kind::Bool, Some("")) => {
                    return Err(format!("missing a value on flag: {flag_name}"))
                }
                (Kind::Bool, v) => match v.unwrap_or("").to_ascii_lowercase().as_str() {
                    "true" | "" => "true".to_string(),
                    "false" => "false".to_string(),
                    _ => {
                        return Err(format!(
                            "expecting boolean value for flag {flag_name}, not: {}",
                            v.unwrap_or("")
                        ))
                    }
                },
                (_, None) => return Err(format!("missing a value on flag: {flag_name}")),
                (_, Some(v)) => v.to_string(),
            };
            flags.values.entry(key).or_default().push(value);
        }
        Ok(flags)
    }

    /// A string flag's value, `None` when not given.
    pub(super) fn string(&self, name: &str) -> Option<String> {
        self.values.get(name).and_then(|v| v.last().cloned())
    }

    /// A boolean flag: `None` when not given.
    pub(super) fn bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v == "true")
    }

    /// Every value of a repeatable flag, in order.
    pub(super) fn strings(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const COPY: &[(&str, Kind)] = &[
        ("from", Kind::String),
        ("link", Kind::Bool),
        ("exclude", Kind::Strings),
    ];

    #[test]
    fn values_and_errors() {
        let f = Flags::parse(
            &s(&["--from=a", "--link", "--exclude=x", "--exclude=y"]),
            COPY,
        )
        .unwrap();
        assert_eq!(f.string("from").as_deref(), Some("a"));
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.strings("exclude"), ["x", "y"]);
        assert_eq!(
            Flags::parse(&s(&["--link=FALSE"]), COPY)
                .unwrap()
                .bool("link"),
            Some(false)
        );
        let err = |a: &[&str]| Flags::parse(&s(a), COPY).unwrap_err();
        assert_eq!(
            err(&["--form=a"]),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(err(&["--bogus"]), "unknown flag: --bogus");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
    }
}
