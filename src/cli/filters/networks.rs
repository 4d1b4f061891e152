//! `network ls -f` as Docker's daemon reads it: `name` and `id` (exact or
//! a regular expression), `driver` and `scope` (exact), `label`
//! (`KEY[=VALUE]`, all must match), `type` (`custom` or `builtin`) and
//! `dangling` (a user-defined network no running container is on).

use crate::model::filters::{FilterArgs, FilterError};
use indexmap::IndexMap;

pub(crate) const NETWORK_LIST_KEYS: &[&str] =
    &["dangling", "driver", "id", "label", "name", "scope", "type"];

/// Parsed `network ls` filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetworkFilter {
    args: FilterArgs,
    dangling: Option<bool>,
}

/// A network as the filters see it.
pub(crate) struct NetworkFacts<'a> {
    pub(crate) name: &'a str,
    pub(crate) id: &'a str,
    pub(crate) driver: &'a str,
    pub(crate) labels: Option<&'a IndexMap<String, String>>,
    /// Docker's predefined networks (bridge, host, none).
    pub(crate) builtin: bool,
    pub(crate) in_use: bool,
}

impl NetworkFilter {
    pub(crate) fn new(args: FilterArgs) -> Result<NetworkFilter, FilterError> {
        args.validate(NETWORK_LIST_KEYS)?;
        for t in args.get("type") {
            if t != "custom" && t != "builtin" {
                return Err(FilterError::Other(format!("invalid filter: 'type'='{t}'")));
            }
        }
        let dangling = args.bool_value("dangling")?;
        Ok(NetworkFilter { args, dangling })
    }

    pub(crate) fn matches(&self, n: &NetworkFacts) -> bool {
        let empty = IndexMap::new();
        let labels = n.labels.unwrap_or(&empty);
        (!self.args.contains("name") || self.args.regex_match("name", n.name))
            && (!self.args.contains("id") || self.args.regex_match("id", n.id))
            && self.args.exact_match("driver", n.driver)
            && self.args.exact_match("scope", "local")
            && self.args.exact_match("type", if n.builtin { "builtin" } else { "custom" })
            && self
                .args
                .match_kv_list("label", |k| labels.get(k).map(String::as_str))
            // Predefined networks are never dangling.
            && self.dangling.is_none_or(|d| !n.builtin && d != n.in_use)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flags: &[&str]) -> NetworkFilter {
        NetworkFilter::new(FilterArgs::parse(flags).unwrap()).unwrap()
    }

    #[test]
    fn dockers_rules() {
        let labels: IndexMap<String, String> = [("tier".to_string(), "front".to_string())].into();
        let front = NetworkFacts {
            name: "front",
            id: "e7437b77b481",
            driver: "bridge",
            labels: Some(&labels),
            builtin: false,
            in_use: false,
        };
        let host = NetworkFacts {
            name: "host",
            id: "0b3c7dc1ba33",
            driver: "host",
            labels: None,
            builtin: true,
            in_use: false,
        };
        assert!(f(&["name=fro"]).matches(&front));
        assert!(!f(&["name=^ro"]).matches(&front));
        assert!(f(&["id=e743"]).matches(&front));
        assert!(f(&["driver=bridge"]).matches(&front) && !f(&["driver=bridge"]).matches(&host));
        assert!(f(&["type=custom"]).matches(&front) && f(&["type=builtin"]).matches(&host));
        assert!(f(&["label=tier=front"]).matches(&front) && !f(&["label=tier"]).matches(&host));
        assert!(f(&["dangling=true"]).matches(&front) && !f(&["dangling=true"]).matches(&host));
        assert!(!f(&["dangling=false"]).matches(&front));
        assert!(NetworkFilter::new(FilterArgs::parse(&["bogus=1"]).unwrap()).is_err());
        assert!(NetworkFilter::new(FilterArgs::parse(&["type=x"]).unwrap()).is_err());
    }
}
