//! Events, as Docker's `events.Message` has them: what happened (`Type`,
//! `Action`) to which object (`Actor`), and when. The store keeps them one
//! JSON object a line in this shape; `berth events` prints them.

use super::ContainerRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Docker's event types berth records.
pub(crate) const CONTAINER: &str = "container";
pub(crate) const IMAGE: &str = "image";
pub(crate) const VOLUME: &str = "volume";
pub(crate) const NETWORK: &str = "network";

/// One event (Docker's `events.Message` without its deprecated fields,
/// which `berth events` derives when it prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    #[serde(rename = "Type")]
    pub(crate) kind: String,
    #[serde(rename = "Action")]
    pub(crate) action: String,
    #[serde(rename = "Actor")]
    pub(crate) actor: Actor,
    /// Always "local": berth has no swarm.
    pub(crate) scope: String,
    /// Seconds since the epoch.
    pub(crate) time: i64,
    /// The same instant in nanoseconds.
    #[serde(rename = "timeNano")]
    pub(crate) time_nano: i64,
}

/// The object an event is about and what is known of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Actor {
    #[serde(rename = "ID")]
    pub(crate) id: String,
    /// Sorted by key, as Docker prints them.
    #[serde(rename = "Attributes", default)]
    pub(crate) attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of `kind` about `id`, happening now.
    pub(crate) fn now(
        kind: &str,
        action: impl Into<String>,
        id: impl Into<String>,
        attributes: BTreeMap<String, String>,
    ) -> Event {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        Event {
            kind: kind.to_string(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        }
    }
}

impl Event {
    /// A container event: Docker's attributes are the container's labels,
    /// its image (as the user named it) and name, then `extra`.
    pub(crate) fn container<'a>(
        record: &ContainerRecord,
        action: impl Into<String>,
        extra: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Event {
        let mut attrs: BTreeMap<String, String> = record
            .config
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        attrs.insert("image".into(), record.image.clone());
        attrs.insert("name".into(), record.name.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v);
        }
        Event::now(CONTAINER, action, record.id.clone(), attrs)
    }

    /// An image event: Docker's actor is the image id, or for `pull` and
    /// `push` the reference; `name` is a reference or the id again.
    pub(crate) fn image(id: &str, name: &str, action: &str) -> Event {
        Event::now(IMAGE, action, id, attributes([("name", name)]))
    }

    /// A volume event (driver `local`, then `extra`).
    pub(crate) fn volume<'a>(
        name: &str,
        action: &str,
        extra: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Event {
        let mut attrs = attributes([("driver", "local")]);
        for (k, v) in extra {
            attrs.insert(k.to_string(), v);
        }
        Event::now(VOLUME, action, name, attrs)
    }

    /// A network event about network `id`: `connect` and `disconnect` name
    /// the container, every event the network's `name` and `type`. For
    /// the networking code (create, connect, disconnect, destroy), which
    /// records them with `Store::record_event`.
    #[allow(dead_code)] // until networks land (the networking branch)
    pub(crate) fn network<'a>(
        id: &str,
        action: &str,
        attrs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Event {
        let attrs = attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Event::now(NETWORK, action, id, attrs)
    }
}

/// Attributes from pairs, for building events.
pub(crate) fn attributes<K: Into<String>, V: Into<String>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

/// `events --filter`, with Docker's keys and rules: values of one key
/// are alternatives, different keys must all match.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct EventFilter {
    /// key → values, in the order given.
    terms: BTreeMap<String, Vec<String>>,
}

/// The keys Docker's daemon accepts for events. Those of objects berth
/// does not have (daemon, plugin, node, service, secret, config) match
/// no berth event when given, as on a Docker engine without them.
const FILTER_KEYS: [&str; 14] = [
    "container",
    "image",
    "event",
    "label",
    "type",
    "volume",
    "network",
    "scope",
    "daemon",
    "plugin",
    "node",
    "service",
    "secret",
    "config",
];

impl EventFilter {
    /// Parses `key=value` terms; an unknown key is Docker's error.
    pub(crate) fn parse(terms: &[String]) -> Result<EventFilter, String> {
        let mut f = EventFilter::default();
        for t in terms {
            let Some((k, v)) = t.split_once('=') else {
                return Err(format!("bad format of filter (expected name=value): {t}"));
            };
            let key = k.trim().to_lowercase();
            if !FILTER_KEYS.contains(&key.as_str()) {
                return Err(format!("invalid filter '{key}'"));
            }
            f.terms.entry(key).or_default().push(v.to_string());
        }
        Ok(f)
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.terms.get(key).map(Vec::as_slice)
    }

    /// No values for `key`, or one of them is `value`.
    fn exact(&self, key: &str, value: &str) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| v == value))
    }

    /// No values for `key`, or `value` is one of them or starts with one
    /// (Docker's fuzzy match: id prefixes).
    fn fuzzy(&self, key: &str, value: &str) -> bool {
        self.values(key).is_none_or(|vs| {
            vs.iter()
                .any(|v| value == v || value.starts_with(v.as_str()))
        })
    }

    /// Whether `e` passes every term.
    pub(crate) fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map_or("", String::as_str);
        let by_name = |key: &str| self.fuzzy(key, &e.actor.id) || self.fuzzy(key, attr("name"));
        // health_status, exec_create and exec_start carry more after a
        // colon: given bare, they match by prefix (moby #25798).
        let event_ok = match self.values("event") {
            Some(vs)
                if vs.iter().any(|v| {
                    matches!(v.as_str(), "health_status" | "exec_create" | "exec_start")
                }) =>
            {
                self.fuzzy("event", &e.action)
            }
            _ => self.exact("event", &e.action),
        };
        let image_name = attr(if e.kind == IMAGE { "name" } else { "image" });
        let image_ok = self.exact("image", &e.actor.id)
            || self.exact("image", image_name)
            || self.exact("image", &strip_tag(&e.actor.id))
            || self.exact("image", &strip_tag(image_name));
        let labels_ok = self.values("label").is_none_or(|vs| {
            vs.iter().all(|v| match v.split_once('=') {
                Some((k, want)) => e.actor.attributes.get(k).is_some_and(|have| have == want),
                None => e.actor.attributes.contains_key(v.as_str()),
            })
        });
        let type_is = |t: &str| e.kind == t;
        event_ok
            && self.exact("type", &e.kind)
            && self.exact("scope", &e.scope)
            && (self.values("daemon").is_none() || type_is("daemon"))
            && by_name(CONTAINER)
            && by_name(VOLUME)
            && by_name(NETWORK)
            && image_ok
            && ["plugin", "node", "service", "secret", "config"]
                .iter()
                .all(|k| self.values(k).is_none())
            && labels_ok
    }
}

/// `busybox:latest` → `busybox` (Docker compares image filters with and
/// without the tag).
fn strip_tag(image: &str) -> String {
    match super::reference::Reference::parse(image) {
        Ok(r) if r.digest().is_none() => r.familiar_name(),
        _ => image.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(terms: &[&str]) -> EventFilter {
        EventFilter::parse(&terms.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn container_event(action: &str) -> Event {
        Event::now(
            CONTAINER,
            action,
            "0123456789abcdef",
            attributes([
                ("name", "web"),
                ("image", "busybox:latest"),
                ("tier", "front"),
            ]),
        )
    }

    #[test]
    fn filters_combine_as_dockers() {
        let e = container_event("start");
        assert!(f(&[]).matches(&e));
        assert!(f(&["event=start"]).matches(&e));
        assert!(
            f(&["event=die", "event=start"]).matches(&e),
            "values of a key: or"
        );
        assert!(!f(&["event=start", "type=image"]).matches(&e), "keys: and");
        assert!(f(&["container=web"]).matches(&e));
        assert!(f(&["container=0123"]).matches(&e), "id prefix");
        assert!(!f(&["container=other"]).matches(&e));
        assert!(f(&["image=busybox"]).matches(&e), "tag stripped");
        assert!(f(&["image=busybox:latest"]).matches(&e));
        assert!(!f(&["image=debian"]).matches(&e));
        assert!(f(&["label=tier"]).matches(&e));
        assert!(f(&["label=tier=front"]).matches(&e));
        assert!(!f(&["label=tier=back"]).matches(&e));
        assert!(
            !f(&["label=tier", "label=missing"]).matches(&e),
            "labels: all"
        );
        assert!(
            !f(&["volume=v"]).matches(&e),
            "a volume filter keeps volume events only"
        );
        assert!(!f(&["node=n"]).matches(&e));
        assert!(f(&["scope=local"]).matches(&e));
    }

    #[test]
    fn bare_health_and_exec_events_match_by_prefix() {
        assert!(f(&["event=health_status"]).matches(&container_event("health_status: healthy")));
        assert!(f(&["event=exec_start"]).matches(&container_event("exec_start: sh -c x")));
        assert!(!f(&["event=die"]).matches(&container_event("die: x")));
    }

    #[test]
    fn volume_events_match_their_name() {
        let e = Event::volume("data", "mount", [("container", "abc".to_string())]);
        assert!(f(&["volume=data", "type=volume"]).matches(&e));
        assert!(!f(&["volume=other"]).matches(&e));
        assert!(
            !f(&["container=abc"]).matches(&e),
            "a container filter is about containers"
        );
    }

    #[test]
    fn bad_filters_are_dockers_errors() {
        assert_eq!(
            EventFilter::parse(&["foo=bar".into()]).unwrap_err(),
            "invalid filter 'foo'"
        );
        assert!(EventFilter::parse(&["nokey".into()]).is_err());
    }

    #[test]
    fn events_serialize_with_dockers_names() {
        let mut e = Event::now(
            CONTAINER,
            "start",
            "abc",
            attributes([("name", "x"), ("image", "busybox")]),
        );
        e.time = 1;
        e.time_nano = 1_000_000_001;
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"image":"busybox","name":"x"}},"scope":"local","time":1,"timeNano":1000000001}"#
        );
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn the_time_in_seconds_is_the_nanoseconds_rounded_down() {
        let e = Event::now(IMAGE, "pull", "busybox:latest", BTreeMap::new());
        assert_eq!(e.time, e.time_nano / 1_000_000_000);
    }
}
