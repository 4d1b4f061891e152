//! `volume ls -f` as Docker's volume service reads it: `name` (exact or a
//! regular expression), `driver` (exact), `label` (`KEY[=VALUE]`, all must
//! match; `label!` excludes) and `dangling` (no container uses it).

use crate::model::filters::{FilterArgs, FilterError};
use indexmap::IndexMap;

pub(crate) const VOLUME_LIST_KEYS: &[&str] = &["dangling", "name", "driver", "label"];

/// Parsed `volume ls` filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct VolumeFilter {
    args: FilterArgs,
    dangling: Option<bool>,
}

impl VolumeFilter {
    pub(crate) fn new(args: FilterArgs) -> Result<VolumeFilter, FilterError> {
        args.validate(VOLUME_LIST_KEYS)?;
        let dangling = args.bool_value("dangling")?;
        Ok(VolumeFilter { args, dangling })
    }

    pub(crate) fn matches(
        &self,
        name: &str,
        driver: &str,
        labels: &IndexMap<String, String>,
        in_use: bool,
    ) -> bool {
        (!self.args.contains("name") || self.args.regex_match("name", name))
            && self.args.exact_match("driver", driver)
            && self
                .args
                .match_kv_list("label", |k| labels.get(k).map(String::as_str))
            && self.dangling.is_none_or(|d| d != in_use)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flags: &[&str]) -> VolumeFilter {
        VolumeFilter::new(FilterArgs::parse(flags).unwrap()).unwrap()
    }

    #[test]
    fn dockers_rules() {
        let labels: IndexMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let none = IndexMap::new();
        assert!(f(&["name=da"]).matches("data", "local", &none, false));
        assert!(!f(&["name=^ta"]).matches("data", "local", &none, false));
        assert!(f(&["driver=local"]).matches("data", "local", &none, false));
        assert!(!f(&["driver=loc"]).matches("data", "local", &none, false));
        assert!(f(&["label=a=1"]).matches("data", "local", &labels, false));
        assert!(!f(&["label=a=1"]).matches("data", "local", &none, false));
        assert!(f(&["dangling=true"]).matches("data", "local", &none, false));
        assert!(!f(&["dangling=true"]).matches("data", "local", &none, true));
        assert!(f(&["dangling=0"]).matches("data", "local", &none, true));
        assert_eq!(
            VolumeFilter::new(FilterArgs::parse(&["until=1h"]).unwrap())
                .unwrap_err()
                .to_string(),
            "invalid filter 'until'"
        );
        assert_eq!(
            VolumeFilter::new(FilterArgs::parse(&["dangling=x"]).unwrap())
                .unwrap_err()
                .to_string(),
            "invalid filter 'dangling=[x]'"
        );
    }
}
