//! `--filter KEY=VALUE` as Docker reads it (its `filters.Args`): each key
//! holds a set of values. Values of one key are alternatives (OR), keys
//! combine (AND). The matching rules are Docker's: exact, regular
//! expression (`name=`), `KEY[=VALUE]` lists (`label=`),
//! and booleans (`dangling=`). Errors carry Docker's wording.
//!
//! Listing commands (`ps`, `images`, `volume ls`, the prunes, `compose ps`)
//! parse once, `validate` against their accepted keys, then ask per object.

use indexmap::{IndexMap, IndexSet};
use std::fmt;

/// Parsed filters: key → values, in the order given (duplicates merged).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FilterArgs {
    fields: IndexMap<String, IndexSet<String>>,
}

/// A filter key or value Docker refuses: `invalid filter 'KEY'`,
/// `invalid filter 'KEY=[VALUES]'`, or a reason of the key's own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FilterError {
    /// `-f x` without `=`: the CLI refuses it before anything runs.
    #[error("invalid argument {0:?} for \"-f, --filter\" flag: bad format of filter (expected name=value)")]
    BadFormat(String),
    /// An unknown key, or values a key cannot take.
    #[error("{}", invalid_text(.key, .values))]
    Invalid {
        key: String,
        values: Option<Vec<String>>,
    },
    /// A key's value that does not parse, with the reason.
    #[error("invalid filter '{key}={value}': {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    /// Anything else, worded by the key (`No such container: x`).
    #[error("{0}")]
    Other(String),
}

fn invalid_text(key: &str, values: &Option<Vec<String>>) -> String {
    let mut msg = "invalid filter".to_string();
    if !key.is_empty() || values.is_some() {
        msg.push_str(" '");
        msg.push_str(key);
        if let Some(v) = values {
            // Go prints a []string as [a b].
            msg.push_str(&format!("=[{}]", v.join(" ")));
        }
        msg.push('\'');
    }
    msg
}

impl FilterArgs {
    /// Reads `-f` flags: each is `KEY=VALUE` (the value may hold `=`).
    pub(crate) fn parse<S: AsRef<str>>(flags: &[S]) -> Result<FilterArgs, FilterError> {
        let mut args = FilterArgs::default();
        for flag in flags {
            let flag = flag.as_ref();
            let Some((key, value)) = flag.split_once('=') else {
                return Err(FilterError::BadFormat(flag.to_string()));
            };
            // Docker lowercases the key and trims both sides.
            args.add(&key.trim().to_ascii_lowercase(), value.trim());
        }
        Ok(args)
    }

    pub(crate) fn add(&mut self, key: &str, value: &str) {
        self.fields
            .entry(key.to_string())
            .or_default()
            .insert(value.to_string());
    }

    /// Every key must be one of `accepted`.
    pub(crate) fn validate(&self, accepted: &[&str]) -> Result<(), FilterError> {
        match self.fields.keys().find(|k| !accepted.contains(&k.as_str())) {
            Some(k) => Err(FilterError::Invalid {
                key: k.clone(),
                values: None,
            }),
            None => Ok(()),
        }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// The values of `key`, in the order given.
    pub(crate) fn get(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// True when `key` is not filtered on, or `source` is one of its values.
    pub(crate) fn exact_match(&self, key: &str, source: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(values) => values.is_empty() || values.contains(source),
        }
    }

    /// Exact, or a value that as a regular expression matches somewhere in
    /// `source` (`name=`, `status=`). A value that is not a valid regular
    /// expression matches only exactly, as in Docker.
    pub(crate) fn regex_match(&self, key: &str, source: &str) -> bool {
        self.exact_match(key, source)
            || self.fields[key]
                .iter()
                .any(|pattern| regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(source)))
    }

    /// `label=KEY` and `label=KEY=VALUE`: every value must be present on
    /// the object (the values of one key combine with AND, as Docker).
    pub(crate) fn match_kv_list<'a>(
        &self,
        key: &str,
        lookup: impl Fn(&str) -> Option<&'a str>,
    ) -> bool {
        let Some(values) = self.fields.get(key) else {
            return true;
        };
        values.iter().all(|v| match v.split_once('=') {
            Some((k, want)) => lookup(k) == Some(want),
            None => lookup(v).is_some(),
        })
    }

    /// `KEY=true|false|1|0`; None when the key is absent. Conflicting or
    /// other values are Docker's `invalid filter 'KEY=[VALUES]'`.
    pub(crate) fn bool_value(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let Some(values) = self.fields.get(key) else {
            return Ok(None);
        };
        let is = |w: &[&str]| values.iter().any(|v| w.contains(&v.as_str()));
        let (falsy, truthy) = (is(&["0", "false"]), is(&["1", "true"]));
        if falsy == truthy {
            return Err(FilterError::Invalid {
                key: key.to_string(),
                values: Some(values.iter().cloned().collect()),
            });
        }
        Ok(Some(truthy))
    }
}

impl fmt::Display for FilterArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}")))
            .collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> FilterArgs {
        FilterArgs::parse(flags).unwrap()
    }

    #[test]
    fn parse_keeps_equals_in_values_and_refuses_bare_words() {
        let a = args(&["label=a=b", "name=x", "name=x"]);
        assert_eq!(a.get("label"), ["a=b"]);
        assert_eq!(a.get("name"), ["x"]);
        assert_eq!(
            FilterArgs::parse(&["name"]).unwrap_err().to_string(),
            "invalid argument \"name\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
        );
    }

    #[test]
    fn unknown_keys_are_dockers_error() {
        let a = args(&["foo=1"]);
        assert_eq!(
            a.validate(&["name"]).unwrap_err().to_string(),
            "invalid filter 'foo'"
        );
        // Docker's text for an empty key has no quotes.
        assert_eq!(
            args(&["=x"]).validate(&["name"]).unwrap_err().to_string(),
            "invalid filter"
        );
    }

    #[test]
    fn matching_rules() {
        let a = args(&["name=^web", "status=exited"]);
        assert!(a.regex_match("name", "web-1"));
        assert!(!a.regex_match("name", "db-web"));
        assert!(a.regex_match("other", "anything"));
        assert!(a.exact_match("status", "exited") && !a.exact_match("status", "running"));
        // An invalid regular expression only matches exactly.
        let bad = args(&["name=a(b"]);
        assert!(bad.regex_match("name", "a(b") && !bad.regex_match("name", "ab"));
    }

    #[test]
    fn labels_all_must_match() {
        let labels = [("a", "1"), ("b", "")];
        let look = |k: &str| labels.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
        assert!(args(&["label=a", "label=b"]).match_kv_list("label", look));
        assert!(args(&["label=a=1"]).match_kv_list("label", look));
        assert!(args(&["label=b="]).match_kv_list("label", look));
        assert!(!args(&["label=a=2"]).match_kv_list("label", look));
        assert!(!args(&["label=a", "label=c"]).match_kv_list("label", look));
    }

    #[test]
    fn booleans() {
        assert_eq!(
            args(&["dangling=true"]).bool_value("dangling"),
            Ok(Some(true))
        );
        assert_eq!(
            args(&["dangling=0"]).bool_value("dangling"),
            Ok(Some(false))
        );
        assert_eq!(args(&[]).bool_value("dangling"), Ok(None));
        assert_eq!(
            args(&["dangling=maybe"])
                .bool_value("dangling")
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling=[maybe]'"
        );
        assert!(args(&["dangling=true", "dangling=false"])
            .bool_value("dangling")
            .is_err());
    }
}
