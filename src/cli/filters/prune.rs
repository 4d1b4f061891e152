//! `--filter until=` and `label=`/`label!=` of `container prune`,
//! `image prune`, `volume prune` and `system prune`, as Docker's daemon
//! reads them.

use crate::model::filters::{FilterArgs, FilterError};
use jiff::Timestamp;

/// Parsed prune filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct PruneFilter {
    args: FilterArgs,
    until: Option<Timestamp>,
}

impl PruneFilter {
    /// `accepted`: the keys this prune takes (`until` is not one of
    /// `volume prune`'s).
    pub(crate) fn new(args: FilterArgs, accepted: &[&str]) -> Result<PruneFilter, FilterError> {
        args.validate(accepted)?;
        let mut until = None;
        let values = args.get("until");
        if values.len() > 1 {
            return Err(FilterError::Other(
                "more than one until filter specified".into(),
            ));
        }
        if let Some(v) = values.first() {
            let t = crate::util::timestamp::parse(v, Timestamp::now()).map_err(|e| {
                FilterError::Other(format!("invalid value for 'until' filter: {e}"))
            })?;
            until = Some(t);
        }
        Ok(PruneFilter { args, until })
    }

    /// Whether an object created at `created` with `labels` may go.
    pub(crate) fn allows<'a>(
        &self,
        created: Option<&str>,
        label: impl Fn(&str) -> Option<&'a str> + Copy,
    ) -> bool {
        if let Some(until) = self.until {
            let Some(t) = created.and_then(|c| c.parse::<Timestamp>().ok()) else {
                return false;
            };
            if t >= until {
                return false;
            }
        }
        if !self.args.match_kv_list("label", label) {
            return false;
        }
        // `label!=KEY[=VALUE]`: objects that have it are kept.
        !self
            .args
            .get("label!")
            .iter()
            .any(|v| match v.split_once('=') {
                Some((k, want)) => label(k) == Some(want),
                None => label(v).is_some(),
            })
    }

    /// The filters as Docker's `system prune` prompt lists them.
    pub(crate) fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = ["label", "label!", "until"]
            .iter()
            .flat_map(|k| {
                self.args
                    .get(k)
                    .into_iter()
                    .map(move |v| format!("{k}={v}"))
            })
            .collect();
        out.sort();
        out
    }

    pub(crate) fn args(&self) -> &FilterArgs {
        &self.args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(flags: &[&str]) -> Result<PruneFilter, FilterError> {
        PruneFilter::new(
            FilterArgs::parse(flags).unwrap(),
            &["until", "label", "label!"],
        )
    }

    #[test]
    fn until_and_labels() {
        let labels = [("keep", "yes")];
        let look = |k: &str| labels.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
        let none = |_: &str| None;
        let old = Some("2020-01-01T00:00:00Z");
        let new = Some("2999-01-01T00:00:00Z");
        let until = f(&["until=2024-01-01T00:00:00Z"]).unwrap();
        assert!(until.allows(old, none) && !until.allows(new, none));
        assert!(f(&["label=keep"]).unwrap().allows(old, look));
        assert!(!f(&["label=keep"]).unwrap().allows(old, none));
        assert!(!f(&["label!=keep"]).unwrap().allows(old, look));
        assert!(f(&["label!=keep=no"]).unwrap().allows(old, look));
        assert_eq!(
            f(&["bogus=1"]).unwrap_err().to_string(),
            "invalid filter 'bogus'"
        );
        assert!(f(&["until=yesterday"])
            .unwrap_err()
            .to_string()
            .starts_with("invalid value for 'until' filter:"));
        assert_eq!(
            f(&["label=b", "until=1h", "label=a"]).unwrap().describe(),
            ["label=a", "label=b", "until=1h"]
        );
    }
}
