//! Short syntax rewritten into the long one, as compose-go's `transform`
//! package does before files are merged: `ports: ["8080:80"]` becomes
//! `{target: 80, published: "8080", protocol: tcp, mode: ingress}`,
//! `volumes: ["./data:/data:ro"]` becomes a `type: bind` mount, string
//! `build`, `extends`, `env_file`, `depends_on` lists, network lists,
//! `secrets`/`configs` names, `external: {name: x}`... all take the one
//! form the typed model knows.

use super::merge::{default_dependency, list_to_map};
use super::node::{ComposeError, KeyPath, Loc, Map, Node, Result, Value};
use crate::util::path::go_clean;

/// Rewrites a whole file (or merged model) in place.
pub fn canonical(root: &mut Node) -> Result<()> {
    let path = KeyPath::root();
    if let Some(services) = root.get_mut("services").and_then(Node::as_map_mut) {
        for (name, service) in services.iter_mut() {
            let p = path.key("services").key(name);
            if let Some(m) = service.as_map_mut() {
                canonical_service(m, &p)?;
            }
        }
    }
    for kind in ["volumes", "networks", "secrets", "configs"] {
        if let Some(res) = root.get_mut(kind).and_then(Node::as_map_mut) {
            for (name, r) in res.iter_mut() {
                maybe_external(r, &path.key(kind).key(name))?;
            }
        }
    }
    if let Some(include) = root.get_mut("include") {
        if let Value::Seq(items) = &mut include.value {
            for item in items.iter_mut() {
                if let Value::Str(s) = &item.value {
                    let mut m = Map::new();
                    m.insert("path".into(), Node::str(s.clone(), &item.loc));
                    item.value = Value::Map(m);
                }
            }
        }
    }
    Ok(())
}

fn canonical_service(s: &mut Map, p: &KeyPath) -> Result<()> {
    if let Some(b) = s.get_mut("build") {
        if let Value::Str(ctx) = &b.value {
            let mut m = Map::new();
            m.insert("context".into(), Node::str(ctx.clone(), &b.loc));
            b.value = Value::Map(m);
        }
        if let Some(bm) = b.as_map_mut() {
            if let Some(sec) = bm.get_mut("secrets") {
                file_mounts(sec);
            }
            if let Some(ac) = bm.get_mut("additional_contexts") {
                key_value_list_to_map(ac, &p.key("build").key("additional_contexts"))?;
            }
            if let Some(ssh) = bm.get_mut("ssh") {
                key_value_list_to_map_ssh(ssh, &p.key("build").key("ssh"))?;
            }
        }
    }
    if let Some(d) = s.get_mut("depends_on") {
        let taken = std::mem::replace(d, Node::null(&Loc::default()));
        let mut n = list_to_map(taken, true);
        if let Some(m) = n.as_map_mut() {
            for (dep, cfg) in m.iter_mut() {
                if cfg.is_null() {
                    let kl = cfg.key_line;
                    *cfg = default_dependency(&cfg.loc);
                    cfg.key_line = kl;
                }
                if let Some(cm) = cfg.as_map_mut() {
                    let loc = cfg_loc(cm);
                    cm.entry("condition".into())
                        .or_insert_with(|| Node::str("service_started", &loc));
                    cm.entry("required".into())
                        .or_insert_with(|| Node::at(Value::Bool(true), &loc));
                } else {
                    return Err(ComposeError::at(
                        cfg,
                        p.key("depends_on").key(dep),
                        format!("must be a mapping, not {}", cfg.kind()),
                    ));
                }
            }
        }
        *d = n;
    }
    if let Some(e) = s.get_mut("env_file") {
        let items = match &e.value {
            Value::Str(_) => vec![e.clone()],
            Value::Seq(items) => items.clone(),
            _ => {
                return Err(ComposeError::at(
                    e,
                    p.key("env_file"),
                    format!("must be a string or a list, not {}", e.kind()),
                ))
            }
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(path) => {
                    let mut m = Map::new();
                    m.insert("path".into(), Node::str(path.clone(), &item.loc));
                    m.insert("required".into(), Node::at(Value::Bool(true), &item.loc));
                    out.push(Node::map(m, &item.loc));
                }
                Value::Map(m) => {
                    let mut m = m.clone();
                    m.entry("required".into())
                        .or_insert_with(|| Node::at(Value::Bool(true), &item.loc));
                    out.push(Node::map(m, &item.loc));
                }
                _ => out.push(item),
            }
        }
        e.value = Value::Seq(out);
    }
    for key in ["label_file", "dns", "dns_search", "tmpfs"] {
        if let Some(v) = s.get_mut(key) {
            if let Value::Str(x) = &v.value {
                let item = Node::str(x.clone(), &v.loc);
                v.value = Value::Seq(vec![item]);
            }
        }
    }
    if let Some(e) = s.get_mut("extends") {
        if let Value::Str(x) = &e.value {
            let mut m = Map::new();
            m.insert("service".into(), Node::str(x.clone(), &e.loc));
            e.value = Value::Map(m);
        }
    }
    if let Some(n) = s.get_mut("networks") {
        let taken = std::mem::replace(n, Node::null(&Loc::default()));
        *n = list_to_map(taken, false);
    }
    if let Some(v) = s.get_mut("volumes") {
        if let Value::Seq(items) = &mut v.value {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Str(spec) = &item.value {
                    let parsed = parse_volume(spec, &item.loc)
                        .map_err(|m| ComposeError::at(item, p.key("volumes").index(i), m))?;
                    item.value = parsed.value;
                }
            }
        }
    }
    if let Some(v) = s.get_mut("devices") {
        if let Value::Seq(items) = &mut v.value {
            for item in items.iter_mut() {
                if let Value::Str(spec) = &item.value {
                    item.value = parse_device(spec, &item.loc).value;
                }
            }
        }
    }
    for key in ["secrets", "configs"] {
        if let Some(v) = s.get_mut(key) {
            file_mounts(v);
        }
    }
    if let Some(ports) = s.get_mut("ports") {
        let pp = p.key("ports");
        let Value::Seq(items) = &ports.value else {
            return Err(ComposeError::at(
                ports,
                pp,
                format!("must be a list, not {}", ports.kind()),
            ));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                Value::Int(_) | Value::Str(_) => {
                    let spec = item.scalar_text().unwrap_or_default();
                    let parsed = parse_port_spec(&spec)
                        .map_err(|m| ComposeError::at(item, pp.index(i), m))?;
                    for port in parsed {
                        out.push(port.to_node(&item.loc));
                    }
                }
                Value::Map(_) => out.push(item.clone()),
                _ => {
                    return Err(ComposeError::at(
                        item,
                        pp.index(i),
                        format!(
                            "a port must be a string, a number or a mapping, not {}",
                            item.kind()
                        ),
                    ))
                }
            }
        }
        ports.value = Value::Seq(out);
    }
    Ok(())
}

fn cfg_loc(m: &Map) -> Loc {
    m.values().next().map(|v| v.loc.clone()).unwrap_or_default()
}

/// `secrets: [name]` → `[{source: name}]`.
fn file_mounts(v: &mut Node) {
    if let Value::Seq(items) = &mut v.value {
        for item in items.iter_mut() {
            if let Value::Str(s) = &item.value {
                let mut m = Map::new();
                m.insert("source".into(), Node::str(s.clone(), &item.loc));
                item.value = Value::Map(m);
            }
        }
    }
}

fn key_value_list_to_map(v: &mut Node, p: &KeyPath) -> Result<()> {
    if let Value::Seq(items) = &v.value {
        let mut m = Map::new();
        for item in items {
            let text = item.scalar_text().unwrap_or_default();
            let Some((k, val)) = text.split_once('=') else {
                return Err(ComposeError::at(
                    item,
                    p,
                    format!("invalid value {text:?}, expected key=value"),
                ));
            };
            m.insert(k.to_string(), Node::str(val, &item.loc));
        }
        v.value = Value::Map(m);
    }
    Ok(())
}

fn key_value_list_to_map_ssh(v: &mut Node, p: &KeyPath) -> Result<()> {
    if let Value::Seq(items) = &v.value {
        let mut m = Map::new();
        for item in items {
            let text = item.scalar_text().unwrap_or_default();
            match text.split_once('=') {
                Some((k, val)) => {
                    m.insert(k.to_string(), Node::str(val, &item.loc));
                }
                None if text == "default" => {
                    m.insert(text, Node::null(&item.loc));
                }
                None => {
                    return Err(ComposeError::at(
                        item,
                        p,
                        format!("invalid ssh key {text:?}"),
                    ))
                }
            }
        }
        v.value = Value::Map(m);
    }
    Ok(())
}

/// `external: {name: x}` (deprecated) → `name: x` and `external: true`.
fn maybe_external(r: &mut Node, p: &KeyPath) -> Result<()> {
    let Some(m) = r.as_map_mut() else {
        return Ok(());
    };
    let Some(ext) = m.get("external") else {
        return Ok(());
    };
    let Some(ext_name) = ext.as_map().map(|e| e.get("name").cloned()) else {
        return Ok(());
    };
    let loc = ext.loc.clone();
    m.insert("external".into(), Node::at(Value::Bool(true), &loc));
    if let Some(ext_name) = ext_name {
        match m.get("name") {
            Some(n) if n.value != ext_name.value => {
                return Err(ComposeError::at(
                    n,
                    p,
                    "name and external.name conflict; only use name",
                ))
            }
            Some(_) => {}
            None => {
                m.insert("name".into(), ext_name);
            }
        }
    }
    Ok(())
}

/// One published port of the long syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: String,
    pub target: u32,
    pub published: String,
    pub protocol: String,
}

impl PortSpec {
    fn to_node(&self, loc: &Loc) -> Node {
        let mut m = Map::new();
        m.insert("mode".into(), Node::str("ingress", loc));
        if !self.host_ip.is_empty() {
            m.insert("host_ip".into(), Node::str(self.host_ip.clone(), loc));
        }
        m.insert(
            "target".into(),
            Node::at(Value::Int(self.target.into()), loc),
        );
        if !self.published.is_empty() {
            m.insert("published".into(), Node::str(self.published.clone(), loc));
        }
        m.insert("protocol".into(), Node::str(self.protocol.clone(), loc));
        Node::map(m, loc)
    }
}

fn parse_range(s: &str) -> std::result::Result<(u32, u32), String> {
    let bad = || format!("invalid port {s:?}");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u32 = a.parse().map_err(|_| bad())?;
    let b: u32 = b.parse().map_err(|_| bad())?;
    if a > 65535 || b > 65535 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Docker's short port syntax: `[[IP:][HOST]:]CONTAINER[/PROTO]` with
/// ranges (`8000-8001:80-81`) and bracketed IPv6 addresses, in the order
/// Docker's parser returns them (sorted by `PORT/PROTO` as text).
pub fn parse_port_spec(spec: &str) -> std::result::Result<Vec<PortSpec>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (ip, host) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let ip = match ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
        Some(inner) => inner.to_string(),
        None => ip,
    };
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address {ip:?} in port {spec:?}"));
    }
    let (container, proto) = match container.split_once('/') {
        Some((c, p)) => (c, p.to_lowercase()),
        None => (container, "tcp".to_string()),
    };
    if container.is_empty() {
        return Err(format!("no port specified in {spec:?}"));
    }
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {proto:?} in port {spec:?}"));
    }
    let (start, end) = parse_range(container).map_err(|e| format!("{e} in {spec:?}"))?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(parse_range(host).map_err(|e| format!("{e} in {spec:?}"))?)
    };
    if let Some((hs, he)) = host_range {
        if he - hs != end - start && end != start {
            return Err(format!(
                "invalid ranges specified for container and host ports in {spec:?}"
            ));
        }
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let published = match host_range {
            None => String::new(),
            Some((hs, he)) if end == start && he != hs => host.to_string(),
            Some((hs, _)) => (hs + i).to_string(),
        };
        out.push(PortSpec {
            host_ip: ip.clone(),
            target: start + i,
            published,
            protocol: proto.clone(),
        });
    }
    out.sort_by_key(|p| format!("{}/{}", p.target, p.protocol));
    Ok(out)
}

fn is_file_path(source: &str) -> bool {
    matches!(source.as_bytes().first(), Some(b'.' | b'/' | b'~'))
}

/// Docker's short volume syntax `[SOURCE:]TARGET[:OPTIONS]` as a long
/// mount: a bind when the source is a path, else a named volume (or an
/// anonymous one without source).
pub fn parse_volume(spec: &str, loc: &Loc) -> std::result::Result<Node, String> {
    if spec.is_empty() {
        return Err("invalid empty volume spec".into());
    }
    // Colons inside ${...} (left by --no-interpolate) do not split.
    let mut fields: Vec<String> = Vec::new();
    let mut buf = String::new();
    let mut depth = 0;
    let chars: Vec<char> = spec.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '$' && chars.get(i + 1) == Some(&'{') {
            depth += 1;
        } else if c == '}' && depth > 0 {
            depth -= 1;
        }
        if c == ':' && depth == 0 {
            if buf.is_empty() {
                return Err(format!(
                    "invalid spec: {spec}: empty section between colons"
                ));
            }
            fields.push(std::mem::take(&mut buf));
        } else {
            buf.push(c);
        }
    }
    if buf.is_empty() {
        return Err(format!(
            "invalid spec: {spec}: empty section between colons"
        ));
    }
    fields.push(buf);
    let (source, target, options) = match fields.len() {
        1 => (None, fields[0].clone(), None),
        2 => (Some(fields[0].clone()), fields[1].clone(), None),
        3 => (
            Some(fields[0].clone()),
            fields[1].clone(),
            Some(fields[2].clone()),
        ),
        _ => return Err(format!("invalid spec: {spec}: too many colons")),
    };
    let mut m = Map::new();
    let bind = source.as_deref().is_some_and(is_file_path);
    m.insert(
        "type".into(),
        Node::str(if bind { "bind" } else { "volume" }, loc),
    );
    if let Some(s) = &source {
        m.insert("source".into(), Node::str(s.clone(), loc));
    }
    m.insert("target".into(), Node::str(go_clean(&target), loc));
    let mut bind_opts = Map::new();
    let mut volume_opts = Map::new();
    for opt in options.iter().flat_map(|o| o.split(',')) {
        match opt {
            "ro" => {
                m.insert("read_only".into(), Node::at(Value::Bool(true), loc));
            }
            "rw" => {
                m.shift_remove("read_only");
            }
            "nocopy" => {
                volume_opts.insert("nocopy".into(), Node::at(Value::Bool(true), loc));
            }
            "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                bind_opts.insert("propagation".into(), Node::str(opt, loc));
            }
            "z" | "Z" => {
                bind_opts.insert("selinux".into(), Node::str(opt, loc));
            }
            _ => {}
        }
    }
    if bind {
        bind_opts.insert("create_host_path".into(), Node::at(Value::Bool(true), loc));
        m.insert("bind".into(), Node::map(bind_opts, loc));
    } else {
        if !bind_opts.is_empty() {
            m.insert("bind".into(), Node::map(bind_opts, loc));
        }
        m.insert("volume".into(), Node::map(volume_opts, loc));
    }
    Ok(Node::map(m, loc))
}

/// `/dev/x[:/dev/y[:rwm]]` as `{source, target, permissions}`.
fn parse_device(spec: &str, loc: &Loc) -> Node {
    let parts: Vec<&str> = spec.split(':').collect();
    let mut m = Map::new();
    m.insert("source".into(), Node::str(parts[0], loc));
    m.insert(
        "target".into(),
        Node::str(*parts.get(1).unwrap_or(&parts[0]), loc),
    );
    m.insert(
        "permissions".into(),
        Node::str(*parts.get(2).unwrap_or(&"rwm"), loc),
    );
    Node::map(m, loc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: &str, target: u32, published: &str, proto: &str) -> PortSpec {
        PortSpec {
            host_ip: ip.into(),
            target,
            published: published.into(),
            protocol: proto.into(),
        }
    }

    #[test]
    fn short_port_syntax() {
        assert_eq!(parse_port_spec("80").unwrap(), [port("", 80, "", "tcp")]);
        assert_eq!(
            parse_port_spec("8080:80/udp").unwrap(),
            [port("", 80, "8080", "udp")]
        );
        assert_eq!(
            parse_port_spec("127.0.0.1:8080:80").unwrap(),
            [port("127.0.0.1", 80, "8080", "tcp")]
        );
        assert_eq!(
            parse_port_spec("127.0.0.1::80").unwrap(),
            [port("127.0.0.1", 80, "", "tcp")]
        );
        assert_eq!(
            parse_port_spec("[::1]:8080:80").unwrap(),
            [port("::1", 80, "8080", "tcp")]
        );
        assert_eq!(
            parse_port_spec("8000-8001:80-81").unwrap(),
            [port("", 80, "8000", "tcp"), port("", 81, "8001", "tcp")]
        );
        assert_eq!(
            parse_port_spec("9000-9010:80").unwrap(),
            [port("", 80, "9000-9010", "tcp")]
        );
        // Docker sorts by "PORT/PROTO" as text.
        let r: Vec<u32> = parse_port_spec("8-10")
            .unwrap()
            .iter()
            .map(|p| p.target)
            .collect();
        assert_eq!(r, [10, 8, 9]);
        for bad in ["", "x", "80/icmp", "1-2:5-9", "70000", "nothost:1:2"] {
            assert!(parse_port_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_volume_syntax() {
        let loc = Loc::default();
        let v = parse_volume("./data:/data/:ro", &loc).unwrap();
        assert_eq!(v.get("type").unwrap().as_str(), Some("bind"));
        assert_eq!(v.get("source").unwrap().as_str(), Some("./data"));
        assert_eq!(v.get("target").unwrap().as_str(), Some("/data"));
        assert_eq!(v.get("read_only").unwrap().value, Value::Bool(true));
        let v = parse_volume("db:/var/lib/db:nocopy", &loc).unwrap();
        assert_eq!(v.get("type").unwrap().as_str(), Some("volume"));
        assert_eq!(
            v.get("volume").unwrap().get("nocopy").unwrap().value,
            Value::Bool(true)
        );
        let v = parse_volume("/anon", &loc).unwrap();
        assert!(v.get("source").is_none());
        assert!(parse_volume("a:b:c:d", &loc).is_err());
        assert!(parse_volume("a::b", &loc).is_err());
    }
}
