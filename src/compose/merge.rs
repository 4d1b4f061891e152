//! Merging compose files, as the Compose Specification's "Merge" section
//! and compose-go's `override` package define it: mappings merge key by
//! key, sequences append, scalars are replaced; some attributes have
//! their own rule (`command`, `entrypoint` and `healthcheck.test` are
//! replaced; `environment`, `labels`, `dns`, ... merge as `KEY=VALUE`
//! lists; `depends_on` and `networks` merge as mappings whatever their
//! syntax); `!reset` removes an inherited value and `!override` replaces
//! it. After a merge, lists whose entries are keyed (ports by published
//! address, volumes by target, environment by name, ...) keep one entry
//! per key, the later one in the earlier one's place.
//!
//! The same rules serve override files, `extends` and `include`.

use super::node::{ComposeError, KeyPath, Loc, Map, Node, Result, Tag, Value};

/// Attributes merged as a sequence of `KEY=VALUE` strings.
const TO_SEQUENCE: &[&str] = &[
    "networks.*.labels",
    "volumes.*.labels",
    "services.*.annotations",
    "services.*.build.args",
    "services.*.build.additional_contexts",
    "services.*.build.labels",
    "services.*.deploy.labels",
    "services.*.dns",
    "services.*.dns_opt",
    "services.*.dns_search",
    "services.*.env_file",
    "services.*.label_file",
    "services.*.environment",
    "services.*.labels",
    "services.*.volumes.*.volume.labels",
    "services.*.sysctls",
    "services.*.tmpfs",
];

/// Attributes the later file replaces whole.
const REPLACED: &[&str] = &[
    "services.*.command",
    "services.*.entrypoint",
    "services.*.healthcheck.test",
    "services.*.ulimits.*",
];

/// Merges `over` into `base` at `path` (the root is `KeyPath::root()`).
pub fn merge(base: Node, over: Node, path: &KeyPath) -> Result<Node> {
    if REPLACED.iter().any(|p| path.matches(p)) {
        return Ok(over);
    }
    if TO_SEQUENCE.iter().any(|p| path.matches(p)) {
        let loc = base.loc.clone();
        let mut seq = to_sequence(base);
        seq.extend(to_sequence(over));
        return Ok(Node::seq(seq, &loc));
    }
    if path.matches("services.*.extra_hosts") || path.matches("services.*.build.extra_hosts") {
        let loc = base.loc.clone();
        let mut seq = to_sequence(base);
        for h in to_sequence(over) {
            if !seq.iter().any(|e| e.value == h.value) {
                seq.push(h);
            }
        }
        return Ok(Node::seq(seq, &loc));
    }
    if path.matches("services.*.build") {
        let b = build_to_map(base);
        let o = build_to_map(over);
        return merge_mappings(b, o, path);
    }
    if path.matches("services.*.depends_on") {
        let b = list_to_map(base, true);
        let o = list_to_map(over, true);
        return merge_mappings(b, o, path);
    }
    if path.matches("services.*.networks") || path.matches("services.*.models") {
        let b = list_to_map(base, false);
        let o = list_to_map(over, false);
        return merge_mappings(b, o, path);
    }
    if path.matches("services.*.logging") {
        let bd = base.get("driver").map(|d| d.value.clone());
        let od = over.get("driver").map(|d| d.value.clone());
        if let (Some(b), Some(o)) = (&bd, &od) {
            if b != o {
                return Ok(over);
            }
        }
        return merge_mappings(base, over, path);
    }
    if path.matches("networks.*.ipam.config") {
        return merge_ipam_config(base, over);
    }
    if over.is_null() {
        return Ok(base);
    }
    match (&base.value, &over.value) {
        (Value::Map(_), Value::Map(_)) => merge_mappings(base, over, path),
        (Value::Map(_), _) => Err(ComposeError::at(
            &over,
            path,
            format!("cannot override a mapping with {}", over.kind()),
        )),
        (Value::Seq(_), Value::Seq(_)) => {
            let (Value::Seq(mut b), Value::Seq(o)) = (base.value, over.value) else {
                unreachable!("matched above")
            };
            b.extend(o);
            Ok(Node {
                value: Value::Seq(b),
                ..over_meta(&over.loc, over.key_line)
            })
        }
        (Value::Seq(_), _) => Err(ComposeError::at(
            &over,
            path,
            format!("cannot override a list with {}", over.kind()),
        )),
        _ => Ok(over),
    }
}

fn over_meta(loc: &Loc, key_line: u32) -> Node {
    Node {
        value: Value::Null,
        loc: loc.clone(),
        key_line,
        tag: None,
    }
}

/// Merges the mapping `over` into the mapping `base`, applying `!reset`
/// and `!override`.
pub fn merge_mappings(base: Node, over: Node, path: &KeyPath) -> Result<Node> {
    let loc = base.loc.clone();
    let key_line = base.key_line;
    let mut map = match base.value {
        Value::Map(m) => m,
        Value::Null => Map::new(),
        _ => {
            return Err(ComposeError::at(&base, path, "must be a mapping"));
        }
    };
    let other = match over.value {
        Value::Map(m) => m,
        Value::Null => Map::new(),
        _ => {
            return Err(ComposeError::at(
                &over,
                path,
                format!("cannot merge {} into a mapping", over.kind()),
            ))
        }
    };
    for (k, mut v) in other {
        match v.tag {
            Some(Tag::Reset) => {
                map.shift_remove(&k);
                continue;
            }
            Some(Tag::Override) => {
                v.tag = None;
                map.insert(k, v);
                continue;
            }
            None => {}
        }
        match map.swap_remove_full(&k) {
            None => {
                map.insert(k, v);
            }
            Some((index, _, existing)) => {
                let merged = merge(existing, v, &path.key(&k))?;
                // Keep the key where the base file had it.
                map.insert(k.clone(), merged);
                let last = map.len() - 1;
                map.swap_indices(index, last);
            }
        }
    }
    Ok(Node {
        value: Value::Map(map),
        loc,
        key_line,
        tag: None,
    })
}

/// Removes what `!reset` marks and forgets the tags (a file merged into
/// nothing, or the values under a key the base did not have).
pub fn strip_tags(node: &mut Node) {
    node.tag = None;
    match &mut node.value {
        Value::Map(m) => {
            m.retain(|_, v| v.tag != Some(Tag::Reset));
            for v in m.values_mut() {
                strip_tags(v);
            }
        }
        Value::Seq(s) => {
            s.retain(|v| v.tag != Some(Tag::Reset));
            for v in s {
                strip_tags(v);
            }
        }
        _ => {}
    }
}

/// A mapping or list as `KEY=VALUE` strings (`KEY` alone for a null),
/// as compose-go's `convertIntoSequence` does (mapping entries sorted).
fn to_sequence(node: Node) -> Vec<Node> {
    let loc = node.loc.clone();
    match node.value {
        Value::Map(m) => {
            let mut seq: Vec<Node> = Vec::new();
            for (k, v) in m {
                let vloc = v.loc.clone();
                match v.value {
                    Value::Null => seq.push(Node::str(k, &vloc)),
                    Value::Seq(items) => {
                        for item in items {
                            let text = item.scalar_text().unwrap_or_default();
                            seq.push(Node::str(format!("{k}={text}"), &item.loc));
                        }
                    }
                    _ => {
                        let text = v.scalar_text().unwrap_or_default();
                        seq.push(Node::str(format!("{k}={text}"), &vloc));
                    }
                }
            }
            seq.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            seq
        }
        Value::Seq(s) => s,
        Value::Str(_) => vec![node],
        Value::Null => Vec::new(),
        _ => vec![Node::str(node.scalar_text().unwrap_or_default(), &loc)],
    }
}

fn build_to_map(node: Node) -> Node {
    match node.value {
        Value::Str(s) => {
            let mut m = Map::new();
            m.insert("context".into(), Node::str(s, &node.loc));
            Node::map(m, &node.loc)
        }
        _ => node,
    }
}

/// A list of names as a mapping: `depends_on` entries get the default
/// condition, networks a null.
pub fn list_to_map(node: Node, depends_on: bool) -> Node {
    let loc = node.loc.clone();
    let key_line = node.key_line;
    match node.value {
        Value::Seq(items) => {
            let mut m = Map::new();
            for item in items {
                let Some(name) = item.scalar_text() else {
                    continue;
                };
                let value = if depends_on {
                    default_dependency(&item.loc)
                } else {
                    Node::null(&item.loc)
                };
                let mut value = value;
                value.key_line = item.loc.line;
                m.insert(name, value);
            }
            let mut n = Node::map(m, &loc);
            n.key_line = key_line;
            n
        }
        value => Node {
            value,
            loc,
            key_line,
            tag: node.tag,
        },
    }
}

/// `{condition: service_started, required: true}`.
pub fn default_dependency(loc: &Loc) -> Node {
    let mut d = Map::new();
    d.insert("condition".into(), Node::str("service_started", loc));
    d.insert("required".into(), Node::at(Value::Bool(true), loc));
    Node::map(d, loc)
}

fn merge_ipam_config(base: Node, over: Node) -> Result<Node> {
    let loc = base.loc.clone();
    let mut configs: Vec<Node> = match base.value {
        Value::Seq(s) => s,
        _ => Vec::new(),
    };
    let overs = match over.value {
        Value::Seq(s) => s,
        _ => Vec::new(),
    };
    for o in overs {
        let subnet = o.get("subnet").map(|s| s.value.clone());
        match configs
            .iter()
            .position(|c| c.get("subnet").map(|s| s.value.clone()) == subnet)
        {
            Some(i) => {
                let existing = configs.remove(i);
                let merged = merge_mappings(existing, o, &KeyPath::root())?;
                configs.insert(i, merged);
            }
            None => configs.push(o),
        }
    }
    Ok(Node::seq(configs, &loc))
}

/// The lists whose entries are keyed, and how to find an entry's key.
fn unicity_key(pattern_path: &KeyPath, entry: &Node) -> Option<Option<String>> {
    const KEY_VALUE: &[&str] = &[
        "networks.*.labels",
        "networks.*.ipam.options",
        "services.*.annotations",
        "services.*.build.args",
        "services.*.build.additional_contexts",
        "services.*.build.platforms",
        "services.*.build.tags",
        "services.*.build.labels",
        "services.*.cap_add",
        "services.*.cap_drop",
        "services.*.deploy.labels",
        "services.*.dns",
        "services.*.dns_opt",
        "services.*.dns_search",
        "services.*.environment",
        "services.*.labels",
        "services.*.links",
        "services.*.networks.*.aliases",
        "services.*.networks.*.link_local_ips",
        "services.*.profiles",
        "services.*.sysctls",
        "services.*.tmpfs",
    ];
    let p = pattern_path;
    if KEY_VALUE.iter().any(|k| p.matches(k)) {
        let text = entry.scalar_text()?;
        return Some(Some(text.split('=').next().unwrap_or("").to_string()));
    }
    if p.matches("services.*.volumes") || p.matches("services.*.devices") {
        return Some(
            entry
                .get("target")
                .and_then(Node::scalar_text)
                .or_else(|| entry.scalar_text()),
        );
    }
    if p.matches("services.*.secrets") || p.matches("services.*.configs") {
        let default = if p.matches("services.*.secrets") {
            "/run/secrets"
        } else {
            ""
        };
        if let Some(t) = entry.get("target").and_then(Node::scalar_text) {
            return Some(Some(t));
        }
        let source = entry
            .get("source")
            .and_then(Node::scalar_text)
            .or_else(|| entry.scalar_text())
            .unwrap_or_default();
        return Some(Some(format!("{default}/{source}")));
    }
    if p.matches("services.*.expose") {
        return Some(entry.scalar_text());
    }
    if p.matches("services.*.env_file") {
        return Some(
            entry
                .get("path")
                .and_then(Node::scalar_text)
                .or_else(|| entry.scalar_text()),
        );
    }
    if p.matches("services.*.ports") {
        if entry.as_map().is_none() {
            return Some(entry.scalar_text());
        }
        let field = |k: &str, d: &str| {
            entry
                .get(k)
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| d.to_string())
        };
        return Some(Some(format!(
            "{}:{}:{}/{}",
            field("host_ip", "0.0.0.0"),
            field("published", ""),
            field("target", ""),
            field("protocol", "tcp")
        )));
    }
    None
}

/// Keeps one entry per key in the keyed lists, recursively.
pub fn enforce_unicity(node: &mut Node, path: &KeyPath) {
    match &mut node.value {
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                enforce_unicity(v, &path.key(k));
            }
        }
        Value::Seq(items) => {
            let Some(first) = items.first() else {
                return;
            };
            if unicity_key(path, first).is_none() {
                for (i, v) in items.iter_mut().enumerate() {
                    enforce_unicity(v, &path.index(i));
                }
                return;
            }
            let mut out: Vec<Node> = Vec::with_capacity(items.len());
            let mut keys: Vec<Option<String>> = Vec::with_capacity(items.len());
            for item in std::mem::take(items) {
                let key = unicity_key(path, &item).flatten();
                match key
                    .as_ref()
                    .and_then(|k| keys.iter().position(|e| e.as_ref() == Some(k)))
                {
                    Some(j) => out[j] = item,
                    None => {
                        keys.push(key);
                        out.push(item);
                    }
                }
            }
            *items = out;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::yaml;
    use std::path::Path;
    use std::sync::Arc;

    fn doc(text: &str) -> Node {
        let f: Arc<Path> = Arc::from(Path::new("/t.yaml"));
        yaml::parse(text, &f).unwrap().remove(0)
    }

    fn merged(a: &str, b: &str) -> Node {
        let mut n = merge(doc(a), doc(b), &KeyPath::root()).unwrap();
        strip_tags(&mut n);
        enforce_unicity(&mut n, &KeyPath::root());
        n
    }

    fn strs(n: &Node) -> Vec<String> {
        n.as_seq()
            .unwrap()
            .iter()
            .map(|x| x.scalar_text().unwrap())
            .collect()
    }

    #[test]
    fn scalars_replace_and_mappings_merge() {
        let m = merged(
            "services: {web: {image: a, user: root}}",
            "services: {web: {image: b}, db: {image: c}}",
        );
        let web = m.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("b"));
        assert_eq!(web.get("user").unwrap().as_str(), Some("root"));
        assert!(m.get("services").unwrap().get("db").is_some());
    }

    #[test]
    fn command_is_replaced_environment_merges_by_name() {
        let m = merged(
            "services: {web: {command: [a, b], environment: {A: '1', B: '2'}}}",
            "services: {web: {command: [c], environment: [B=3, C]}}",
        );
        let web = m.get("services").unwrap().get("web").unwrap();
        assert_eq!(strs(web.get("command").unwrap()), ["c"]);
        assert_eq!(strs(web.get("environment").unwrap()), ["A=1", "B=3", "C"]);
    }

    #[test]
    fn keyed_lists_keep_one_entry_per_key() {
        let m = merged(
            "services: {web: {volumes: [{type: volume, source: a, target: /data}], ports: [{target: 80, published: '8080'}]}}",
            "services: {web: {volumes: [{type: volume, source: b, target: /data}], ports: [{target: 80, published: '8080', protocol: tcp}, {target: 81}]}}",
        );
        let web = m.get("services").unwrap().get("web").unwrap();
        let vols = web.get("volumes").unwrap().as_seq().unwrap();
        assert_eq!(vols.len(), 1);
        assert_eq!(vols[0].get("source").unwrap().as_str(), Some("b"));
        assert_eq!(web.get("ports").unwrap().as_seq().unwrap().len(), 2);
    }

    #[test]
    fn reset_and_override_tags() {
        let m = merged(
            "services: {web: {ports: ['80'], environment: {A: '1'}, labels: {a: b}}}",
            "services: {web: {ports: !reset [], environment: !override {B: '2'}}}",
        );
        let web = m.get("services").unwrap().get("web").unwrap();
        assert!(web.get("ports").is_none());
        assert_eq!(
            web.get("environment").unwrap().get("B").unwrap().as_str(),
            Some("2")
        );
        assert!(web.get("environment").unwrap().get("A").is_none());
        assert!(web.get("labels").is_some());
    }

    #[test]
    fn depends_on_and_networks_merge_across_syntaxes() {
        let m = merged(
            "services: {web: {depends_on: [db], networks: [front]}}",
            "services: {web: {depends_on: {cache: {condition: service_healthy}}, networks: {back: {aliases: [x]}}}}",
        );
        let web = m.get("services").unwrap().get("web").unwrap();
        let deps = web.get("depends_on").unwrap().as_map().unwrap();
        assert_eq!(deps.keys().collect::<Vec<_>>(), ["db", "cache"]);
        assert_eq!(
            deps["db"].get("condition").unwrap().as_str(),
            Some("service_started")
        );
        let nets = web.get("networks").unwrap().as_map().unwrap();
        assert_eq!(nets.keys().collect::<Vec<_>>(), ["front", "back"]);
    }

    #[test]
    fn type_mismatch_is_an_error_with_its_place() {
        let e = merge(
            doc("services: {web: {ports: ['80']}}"),
            doc("services:\n  web:\n    ports: {a: 1}\n"),
            &KeyPath::root(),
        )
        .unwrap_err();
        assert_eq!(e.path, "services.web.ports");
        assert_eq!(e.loc.line, 3);
    }
}
