//! Which containers a listing shows: `ps -a -n -l -f KEY=VALUE` as Docker's
//! daemon decides it (daemon/list.go), for `ps` and `compose ps` alike.
//!
//! Plain logic over records the caller has read: names that refer to other
//! objects (`before=`, `since=`, `ancestor=`) are resolved through lookups
//! the caller passes in, so that nothing here touches the store.
//!
//! Adding a key: its name in [`PS_FILTER_KEYS`], its parsed form in
//! [`ContainerFilter::new`] when it needs one, and one arm in
//! [`ContainerFilter::keeps`].

use super::filters::{FilterArgs, FilterError};
use super::{ContainerRecord, ContainerState, HealthStatus, MountKind, Status};
use std::collections::HashSet;

/// The keys `ps -f` accepts, as Docker's `acceptedPsFilterTags`.
pub(crate) const PS_FILTER_KEYS: &[&str] = &[
    "ancestor",
    "before",
    "exited",
    "id",
    "isolation",
    "label",
    "name",
    "status",
    "health",
    "since",
    "volume",
    "is-task",
    "expose",
    "network",
    "publish",
];

/// One container as the filters see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub(crate) record: &'a ContainerRecord,
    pub(crate) state: &'a ContainerState,
    /// Ports the container exposes (`80/tcp`), from its image's EXPOSE.
    pub(crate) exposed: &'a [String],
}

/// `-a`, and `-n N` / `-l` (the last N created, whatever their state).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ListOptions {
    pub(crate) all: bool,
    pub(crate) limit: Option<usize>,
}

/// An image named by `ancestor=`: it and the images built on it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ancestor {
    pub(crate) id: String,
    /// Its layers, base first: a container whose layers start with these
    /// and add more was made from an image built on it.
    pub(crate) layers: Vec<String>,
    /// Ids of images built on it (found by the caller from the image
    /// store: longer layer lists, or the same layers with more history).
    pub(crate) descendants: HashSet<String>,
}

/// Parsed and resolved `ps` filters.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContainerFilter {
    args: FilterArgs,
    exited: Vec<i32>,
    before: Option<String>,
    since: Option<String>,
    /// `Some` when `ancestor=` was given (empty: no value named an image,
    /// and then nothing matches, as Docker).
    ancestors: Option<Vec<Ancestor>>,
    is_task: Option<bool>,
    expose: HashSet<String>,
    /// `publish=`: host ports (`8080/tcp`) a running container publishes.
    publish: HashSet<String>,
    /// `status=` given: stopped containers are listed without `-a`.
    status_given: bool,
}

impl ContainerFilter {
    /// Checks the filters and resolves the names in them.
    /// `container_id` finds a container by id, id prefix or name;
    /// `ancestor` an image and what is built on it (None: no such image).
    pub(crate) fn new(
        args: FilterArgs,
        container_id: impl Fn(&str) -> Option<String>,
        ancestor: impl Fn(&str) -> Option<Ancestor>,
    ) -> Result<ContainerFilter, FilterError> {
        args.validate(PS_FILTER_KEYS)?;
        let mut f = ContainerFilter::default();
        for v in args.get("exited") {
            let code = v.parse::<i32>().map_err(|_| FilterError::BadValue {
                key: "exited".into(),
                value: v.into(),
                reason: format!("strconv.Atoi: parsing {v:?}: invalid syntax"),
            })?;
            f.exited.push(code);
        }
        for v in args.get("status") {
            if Status::parse(v).is_none() {
                let known: Vec<&str> = STATUS_ORDER.iter().map(|s| s.as_str()).collect();
                return Err(FilterError::BadValue {
                    key: "status".into(),
                    value: v.into(),
                    reason: format!(
                        "invalid value for state ({v}): must be one of {}",
                        known.join(", ")
                    ),
                });
            }
            f.status_given = true;
        }
        for v in args.get("health") {
            if !HEALTH_WORDS.contains(&v) {
                return Err(FilterError::BadValue {
                    key: "health".into(),
                    value: v.into(),
                    reason: format!(
                        "invalid value for health ({v}): must be one of {}",
                        HEALTH_WORDS.join(", ")
                    ),
                });
            }
        }
        f.is_task = args.bool_value("is-task")?;
        let lookup = |key: &str| -> Result<Option<String>, FilterError> {
            // Docker keeps the last value it walks; one is what people give.
            let mut found = None;
            for v in args.get(key) {
                found = Some(
                    container_id(v)
                        .ok_or_else(|| FilterError::Other(format!("No such container: {v}")))?,
                );
            }
            Ok(found)
        };
        f.before = lookup("before")?;
        f.since = lookup("since")?;
        if args.contains("ancestor") {
            let mut found: Vec<Ancestor> = Vec::new();
            for v in args.get("ancestor") {
                if let Some(a) = ancestor(v) {
                    if !found.iter().any(|x| x.id == a.id) {
                        found.push(a);
                    }
                }
            }
            f.ancestors = Some(found);
        }
        for v in args.get("expose") {
            f.expose.extend(port_set("expose", v)?);
        }
        for v in args.get("publish") {
            f.publish.extend(port_set("publish", v)?);
        }
        f.args = args;
        Ok(f)
    }

    /// The positions in `candidates` (newest first) that the listing shows.
    pub(crate) fn select(&self, opts: ListOptions, candidates: &[Candidate]) -> Vec<usize> {
        let all = opts.all || self.status_given;
        let limit = opts.limit.filter(|&n| n > 0);
        let ids: Vec<&str> = candidates.iter().map(|c| c.record.id.as_str()).collect();
        let id_matches = self.id_matches(&ids);
        // As Docker, `name=` and `id=` choose the pool first; `before=`
        // and `since=` then count positions within it.
        let pool = candidates.iter().enumerate().filter(|(_, c)| {
            id_matches
                .as_ref()
                .is_none_or(|ids| ids.contains(c.record.id.as_str()))
                && self.name_matches(c.record)
        });
        let mut passed_before = self.before.is_none();
        let mut out = Vec::new();
        for (i, c) in pool {
            if !passed_before {
                if Some(&c.record.id) == self.before.as_ref() {
                    passed_before = true;
                }
                continue;
            }
            if Some(&c.record.id) == self.since.as_ref() {
                break;
            }
            if !c.state.status.is_active() && !all && limit.is_none() {
                continue;
            }
            if limit.is_some_and(|n| out.len() == n) {
                break;
            }
            if self.keeps(c) {
                out.push(i);
            }
        }
        out
    }

    fn name_matches(&self, r: &ContainerRecord) -> bool {
        let name = r.name.trim_start_matches('/');
        !self.args.contains("name")
            || self.args.regex_match("name", name)
            || self.args.regex_match("name", &format!("/{name}"))
    }

    /// `id=` values are id prefixes that name one container each (an
    /// ambiguous prefix names none, as Docker's truncindex).
    fn id_matches<'a>(&self, ids: &[&'a str]) -> Option<HashSet<&'a str>> {
        if !self.args.contains("id") {
            return None;
        }
        let mut set = HashSet::new();
        for prefix in self.args.get("id") {
            let hits: Vec<&&str> = ids.iter().filter(|id| id.starts_with(prefix)).collect();
            match hits.as_slice() {
                [one] => {
                    set.insert(**one);
                }
                many => {
                    if let Some(exact) = many.iter().find(|id| **id == &prefix) {
                        set.insert(**exact);
                    }
                }
            }
        }
        Some(set)
    }

    /// Every filter key but those that choose the pool and the order
    /// (`name`, `id`, `before`, `since`).
    fn keeps(&self, c: &Candidate) -> bool {
        let (r, s, a) = (c.record, c.state, &self.args);
        if self.is_task == Some(true) {
            // berth has no swarm: no container is a task.
            return false;
        }
        if !a.match_kv_list("label", |k| r.config.labels.get(k).map(String::as_str)) {
            return false;
        }
        if !self.exited.is_empty() {
            let stopped = !s.status.is_active() && s.started_at.is_some();
            if !(stopped && self.exited.contains(&s.exit_code)) {
                return false;
            }
        }
        if !a.exact_match("status", s.status.as_str()) {
            return false;
        }
        if !a.exact_match("health", health_word(s)) {
            return false;
        }
        if a.contains("volume") && !a.get("volume").iter().any(|v| mounts_volume(r, v)) {
            return false;
        }
        if let Some(ancestors) = &self.ancestors {
            if !ancestors.iter().any(|an| descends(r, an)) {
                return false;
            }
        }
        if !self.expose.is_empty() && !c.exposed.iter().any(|p| self.expose.contains(p)) {
            return false;
        }
        if !self.publish.is_empty() && !publishes(s, &self.publish) {
            return false;
        }
        if a.contains("network") && !a.get("network").iter().any(|v| on_network(r, v)) {
            return false;
        }
        true
    }
}

/// Docker's order of states in its error message.
const STATUS_ORDER: [Status; 7] = [
    Status::Created,
    Status::Running,
    Status::Paused,
    Status::Restarting,
    Status::Removing,
    Status::Exited,
    Status::Dead,
];

const HEALTH_WORDS: [&str; 4] = ["none", "starting", "healthy", "unhealthy"];

/// `none` without a health check, else its status.
pub(crate) fn health_word(s: &ContainerState) -> &'static str {
    match s.health.as_ref().map(|h| h.status) {
        None => "none",
        Some(HealthStatus::Starting) => "starting",
        Some(HealthStatus::Healthy) => "healthy",
        Some(HealthStatus::Unhealthy) => "unhealthy",
    }
}

/// `volume=` names a volume, a bind's source, or a mount destination.
fn mounts_volume(r: &ContainerRecord, value: &str) -> bool {
    r.host.storage.mounts.iter().any(|m| {
        m.destination == value
            || match (&m.volume, m.kind) {
                (Some(name), MountKind::Volume) => name == value,
                _ => m.kind == MountKind::Bind && m.source.as_os_str() == value,
            }
    })
}

/// `publish=`: Docker matches the public (host) port of a running
/// container's published ports.
fn publishes(s: &ContainerState, wanted: &HashSet<String>) -> bool {
    s.status.is_active()
        && s.network
            .ports
            .iter()
            .any(|b| wanted.contains(&format!("{}/{}", b.host_port, b.proto)))
}

/// `network=`: a network's name exactly, or its id by prefix, among the
/// networks the container is configured for (`host`, `none` by name).
fn on_network(r: &ContainerRecord, value: &str) -> bool {
    use super::NetworkMode;
    match &r.host.network.mode {
        NetworkMode::Host | NetworkMode::None => r.host.network.mode.to_string() == value,
        NetworkMode::Container(_) => false,
        _ => {
            r.host.network.user_networks().iter().any(|e| {
                e.network == value || (!value.is_empty() && e.network_id.starts_with(value))
            })
        }
    }
}

/// The container was made from the ancestor or from an image built on it.
fn descends(r: &ContainerRecord, an: &Ancestor) -> bool {
    r.image_id == an.id
        || an.descendants.contains(&r.image_id)
        || (!an.layers.is_empty()
            && r.layers.len() > an.layers.len()
            && r.layers.starts_with(&an.layers))
}

/// `80`, `80/udp`, `8000-8002/tcp` → the set of `PORT/PROTO` it names.
fn port_set(key: &str, value: &str) -> Result<Vec<String>, FilterError> {
    if value.contains(':') {
        return Err(FilterError::Other(format!(
            "filter for '{key}' should not contain ':': {value}"
        )));
    }
    let bad =
        |why: &str| FilterError::Other(format!("error while looking up for {key} {value}: {why}"));
    let (range, proto) = match value.split_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (value, "tcp".to_string()),
    };
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(bad(&format!("invalid proto: {proto}")));
    }
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| bad(&format!("invalid port: {s}")))
    };
    let (first, last) = match range.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(range)?, num(range)?),
    };
    if last < first {
        return Err(bad(&format!("invalid range specified for port: {range}")));
    }
    Ok((first..=last).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HealthState, MountPoint};

    struct Box {
        rec: ContainerRecord,
        state: ContainerState,
        exposed: Vec<String>,
    }

    fn container(id: &str, name: &str, status: Status) -> Box {
        let mut rec = ContainerRecord {
            id: id.into(),
            name: name.into(),
            image_id: "sha256:base".into(),
            layers: vec!["l1".into()],
            ..Default::default()
        };
        rec.config.labels.insert("tier".into(), name.into());
        let state = ContainerState {
            status,
            started_at: (status != Status::Created).then(|| "2024-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        Box {
            rec,
            state,
            exposed: vec![],
        }
    }

    /// Newest first, as `ps` lists.
    fn world() -> Vec<Box> {
        let mut web = container("aaa111", "web", Status::Running);
        web.exposed = vec!["80/tcp".into()];
        web.rec.host.network.mode = crate::model::NetworkMode::Named("front".into());
        web.rec.host.network.endpoints = vec![crate::model::network::EndpointConfig {
            network: "front".into(),
            network_id: "f00d1234".into(),
            ..Default::default()
        }];
        web.state.network.ports = vec![crate::model::ports::PortBinding {
            container_port: 80,
            proto: crate::model::ports::Proto::Tcp,
            host_ip: "0.0.0.0".parse().unwrap(),
            host_port: 8080,
        }];
        web.state.health = Some(HealthState::default());
        let mut db = container("aab222", "db", Status::Exited);
        db.rec.host.network.mode = crate::model::NetworkMode::Host;
        db.state.exit_code = 3;
        db.rec.image_id = "sha256:child".into();
        db.rec.layers = vec!["l1".into(), "l2".into()];
        db.rec.host.storage.mounts.push(MountPoint {
            kind: MountKind::Volume,
            destination: "/data".into(),
            volume: Some("dbdata".into()),
            ..Default::default()
        });
        let fresh = container("bbb333", "web-2", Status::Created);
        vec![fresh, db, web]
    }

    fn pick(flags: &[&str], opts: ListOptions) -> Result<Vec<String>, FilterError> {
        let w = world();
        let args = FilterArgs::parse(flags)?;
        let names: Vec<(String, String)> = w
            .iter()
            .map(|b| (b.rec.id.clone(), b.rec.name.clone()))
            .collect();
        let f = ContainerFilter::new(
            args,
            |v| {
                names
                    .iter()
                    .find(|(id, n)| id.starts_with(v) || n == v)
                    .map(|(id, _)| id.clone())
            },
            |v| {
                (v == "base").then(|| Ancestor {
                    id: "sha256:base".into(),
                    layers: vec!["l1".into()],
                    ..Default::default()
                })
            },
        )?;
        let cands: Vec<Candidate> = w
            .iter()
            .map(|b| Candidate {
                record: &b.rec,
                state: &b.state,
                exposed: &b.exposed,
            })
            .collect();
        Ok(f.select(opts, &cands)
            .into_iter()
            .map(|i| w[i].rec.name.clone())
            .collect())
    }

    const ALL: ListOptions = ListOptions {
        all: true,
        limit: None,
    };

    #[test]
    fn default_shows_running_only_and_status_implies_all() {
        assert_eq!(pick(&[], ListOptions::default()).unwrap(), ["web"]);
        assert_eq!(
            pick(&["status=exited"], ListOptions::default()).unwrap(),
            ["db"]
        );
        assert_eq!(
            pick(&["status=exited", "status=created"], ListOptions::default()).unwrap(),
            ["web-2", "db"]
        );
    }

    #[test]
    fn limits_include_stopped_containers() {
        let last = ListOptions {
            all: false,
            limit: Some(1),
        };
        assert_eq!(pick(&[], last).unwrap(), ["web-2"]);
        let two = ListOptions {
            all: false,
            limit: Some(2),
        };
        assert_eq!(pick(&["name=web"], two).unwrap(), ["web-2", "web"]);
    }

    #[test]
    fn names_are_regular_expressions_ids_prefixes() {
        assert_eq!(pick(&["name=web"], ALL).unwrap(), ["web-2", "web"]);
        assert_eq!(pick(&["name=^web$"], ALL).unwrap(), ["web"]);
        assert_eq!(pick(&["name=^/db"], ALL).unwrap(), ["db"]);
        assert_eq!(pick(&["id=aab"], ALL).unwrap(), ["db"]);
        // Ambiguous: names no container.
        assert!(pick(&["id=aa"], ALL).unwrap().is_empty());
        // Same key: OR; different keys: AND.
        assert_eq!(pick(&["id=aab", "id=bbb"], ALL).unwrap(), ["web-2", "db"]);
        assert_eq!(
            pick(&["id=aab", "name=web"], ALL).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn before_since_exited_health_volume_ancestor_expose() {
        assert_eq!(pick(&["before=web-2"], ALL).unwrap(), ["db", "web"]);
        assert_eq!(pick(&["since=web"], ALL).unwrap(), ["web-2", "db"]);
        assert_eq!(pick(&["exited=3"], ALL).unwrap(), ["db"]);
        assert!(pick(&["exited=0"], ALL).unwrap().is_empty());
        assert_eq!(pick(&["health=starting"], ALL).unwrap(), ["web"]);
        assert_eq!(pick(&["health=none"], ALL).unwrap(), ["web-2", "db"]);
        assert_eq!(pick(&["volume=dbdata"], ALL).unwrap(), ["db"]);
        assert_eq!(pick(&["volume=/data"], ALL).unwrap(), ["db"]);
        assert_eq!(
            pick(&["ancestor=base"], ALL).unwrap(),
            ["web-2", "db", "web"]
        );
        assert!(pick(&["ancestor=nosuch"], ALL).unwrap().is_empty());
        assert_eq!(pick(&["expose=80"], ALL).unwrap(), ["web"]);
        assert_eq!(pick(&["expose=79-81/tcp"], ALL).unwrap(), ["web"]);
        assert!(pick(&["expose=80/udp"], ALL).unwrap().is_empty());
        assert_eq!(pick(&["label=tier=db"], ALL).unwrap(), ["db"]);
        assert_eq!(pick(&["is-task=false"], ALL).unwrap().len(), 3);
        assert!(pick(&["is-task=true"], ALL).unwrap().is_empty());
        assert_eq!(pick(&["isolation=default"], ALL).unwrap().len(), 3);
    }

    #[test]
    fn errors_are_dockers() {
        let err = |f: &str| pick(&[f], ALL).unwrap_err().to_string();
        assert_eq!(err("foo=1"), "invalid filter 'foo'");
        assert_eq!(
            err("status=bogus"),
            "invalid filter 'status=bogus': invalid value for state (bogus): must be one of created, running, paused, restarting, removing, exited, dead"
        );
        assert_eq!(
            err("health=x"),
            "invalid filter 'health=x': invalid value for health (x): must be one of none, starting, healthy, unhealthy"
        );
        assert_eq!(
            err("exited=x"),
            "invalid filter 'exited=x': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(err("before=nosuch"), "No such container: nosuch");
        assert_eq!(
            err("expose=80:80"),
            "filter for 'expose' should not contain ':': 80:80"
        );
        assert_eq!(err("is-task=maybe"), "invalid filter 'is-task=[maybe]'");
    }

    #[test]
    fn network_and_publish() {
        let all = ListOptions {
            all: true,
            limit: None,
        };
        assert_eq!(pick(&["network=front"], all).unwrap(), ["web"]);
        assert_eq!(pick(&["network=f00d"], all).unwrap(), ["web"]);
        assert_eq!(pick(&["network=host"], all).unwrap(), ["db"]);
        assert!(pick(&["network=fro"], all).unwrap().is_empty());
        assert_eq!(pick(&["publish=8080"], all).unwrap(), ["web"]);
        assert_eq!(pick(&["publish=8000-8090/tcp"], all).unwrap(), ["web"]);
        assert!(pick(&["publish=80"], all).unwrap().is_empty());
        assert!(pick(&["publish=8080/udp"], all).unwrap().is_empty());
    }
}
