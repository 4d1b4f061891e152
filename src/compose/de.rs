//! A serde `Deserializer` over [`Node`] trees, so the typed model can be
//! derived with serde while every error still names the file, the line
//! and the key path (`services.web.ports[1].target`).
//!
//! Structs reject keys they do not know, except `x-` extensions, which are
//! handed to a field named `x-` when the struct has one (and skipped when
//! it has none), as the Compose Specification allows them everywhere.
//! Scalars are read as Compose reads interpolated values: a string is
//! accepted where a number or boolean is expected when it parses as one.

use super::node::{go_float, ComposeError, KeyPath, Map, Node, Value};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A deserialization error on its way up; becomes a [`ComposeError`].
#[derive(Debug)]
pub struct DeError(pub ComposeError);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        // Placed by `NodeDe::place` on the way out of the node it is about.
        DeError(ComposeError::plain(msg.to_string()))
    }
}

/// Reads `T` from `node`, whose place in the model is `path`.
pub fn from_node<T: de::DeserializeOwned>(node: &Node, path: &KeyPath) -> Result<T, ComposeError> {
    T::deserialize(NodeDe {
        node,
        path: path.clone(),
    })
    .map_err(|e| e.0)
}

pub struct NodeDe<'a> {
    pub node: &'a Node,
    pub path: KeyPath,
}

impl<'a> NodeDe<'a> {
    /// An error about this node.
    fn err(&self, msg: impl Into<String>) -> DeError {
        DeError(ComposeError::at(self.node, &self.path, msg))
    }

    fn invalid(&self, expected: &str) -> DeError {
        self.err(format!("must be {expected}, not {}", describe(self.node)))
    }

    /// Gives an unplaced error (from a visitor) this node's place.
    fn place<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| {
            if e.0.loc.file.is_none() && e.0.path.is_empty() {
                self.err(e.0.message)
            } else {
                e
            }
        })
    }

    fn text(&self) -> Option<String> {
        self.node.scalar_text()
    }
}

fn describe(n: &Node) -> String {
    match &n.value {
        Value::Str(s) => format!("the string {s:?}"),
        Value::Int(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {}", go_float(*f)),
        Value::Bool(b) => format!("the boolean {b}"),
        _ => n.kind().to_string(),
    }
}

macro_rules! int_method {
    ($name:ident, $visit:ident, $t:ty) => {
        fn $name<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let n: Option<$t> = match &self.node.value {
                Value::Int(i) => <$t>::try_from(*i).ok(),
                Value::Float(f) if f.fract() == 0.0 => <$t>::try_from(*f as i64).ok(),
                Value::Str(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n {
                Some(n) => self.place(v.$visit(n)),
                None => Err(self.invalid(concat!("an integer (", stringify!($t), ")"))),
            }
        }
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match &self.node.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_str(s),
            Value::Seq(items) => v.visit_seq(Seq::new(items, &self.path)),
            Value::Map(m) => {
                // An untyped mapping prints as Go prints a map: sorted.
                let mut sorted = m.clone();
                sorted.sort_keys();
                v.visit_map(Entries::new(&sorted, &self.path, None))
            }
        };
        self.place(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let b = match &self.node.value {
            Value::Bool(b) => Some(*b),
            // compose-go casts interpolated strings with YAML 1.1 spellings.
            Value::Str(s) => match s.to_lowercase().as_str() {
                "true" | "y" | "yes" | "on" => Some(true),
                "false" | "n" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        match b {
            Some(b) => self.place(v.visit_bool(b)),
            None => Err(self.invalid("a boolean")),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let f = match &self.node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        };
        match f {
            Some(f) => self.place(v.visit_f64(f)),
            None => Err(self.invalid("a number")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) => self.place(v.visit_str(s)),
            _ => Err(self.invalid("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            self.place(v.visit_none())
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.place(v.visit_unit())
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.place(v.visit_unit())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => {
                let r = v.visit_seq(Seq::new(items, &self.path));
                self.place(r)
            }
            _ => Err(self.invalid("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(m) => {
                let r = v.visit_map(Entries::new(m, &self.path, None));
                self.place(r)
            }
            // An empty value (`networks: {default: }`) reads as an empty mapping.
            Value::Null => {
                let empty = Map::new();
                let r = v.visit_map(Entries::new(&empty, &self.path, None));
                self.place(r)
            }
            _ => Err(self.invalid("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let empty = Map::new();
        let m = match &self.node.value {
            Value::Map(m) => m,
            Value::Null => &empty,
            _ => return Err(self.invalid("a mapping")),
        };
        for (k, child) in m {
            if !fields.contains(&k.as_str()) && !k.starts_with("x-") {
                let p = self.path.key(k);
                return Err(DeError(ComposeError::at(
                    child,
                    &self.path,
                    format!("unknown key {k:?} (additional property {p} is not allowed)"),
                )));
            }
        }
        let r = v.visit_map(Entries::new(m, &self.path, Some(fields)));
        self.place(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.text() {
            Some(s) if matches!(self.node.value, Value::Str(_)) => {
                if !variants.contains(&s.as_str()) {
                    return Err(
                        self.err(format!("must be one of {}, not {s:?}", variants.join(", ")))
                    );
                }
                self.place(v.visit_enum(s.into_deserializer()))
            }
            _ => Err(self.invalid("a string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.place(v.visit_unit())
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    path: &'a KeyPath,
}

impl<'a> Seq<'a> {
    fn new(items: &'a [Node], path: &'a KeyPath) -> Seq<'a> {
        Seq {
            items: items.iter(),
            index: 0,
            path,
        }
    }
}

impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(self.index);
        self.index += 1;
        seed.deserialize(NodeDe { node, path }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A mapping's entries; for a struct with an `x-` field, the `x-` keys
/// come last, gathered into one mapping under `x-`.
struct Entries<'a> {
    iter: indexmap::map::Iter<'a, String, Node>,
    path: &'a KeyPath,
    fields: Option<&'static [&'static str]>,
    pending: Option<(&'a str, &'a Node)>,
    extensions: Option<Node>,
    extensions_done: bool,
}

impl<'a> Entries<'a> {
    fn new(m: &'a Map, path: &'a KeyPath, fields: Option<&'static [&'static str]>) -> Entries<'a> {
        let wants_ext = fields.is_some_and(|f| f.contains(&"x-"));
        let extensions = if wants_ext {
            let ext: Map = m
                .iter()
                .filter(|(k, _)| k.starts_with("x-"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (!ext.is_empty()).then(|| Node::map(ext, &Default::default()))
        } else {
            None
        };
        Entries {
            iter: m.iter(),
            path,
            fields,
            pending: None,
            extensions,
            extensions_done: false,
        }
    }
}

impl<'de, 'a> MapAccess<'de> for Entries<'a> {
    type Error = DeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        for (k, v) in self.iter.by_ref() {
            if self.fields.is_some() && k.starts_with("x-") {
                continue;
            }
            self.pending = Some((k.as_str(), v));
            let key: de::value::StrDeserializer<'_, DeError> = k.as_str().into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        if !self.extensions_done && self.extensions.is_some() {
            self.extensions_done = true;
            let key: de::value::StrDeserializer<'_, DeError> = "x-".into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        if let Some((k, node)) = self.pending.take() {
            return seed.deserialize(NodeDe {
                node,
                path: self.path.key(k),
            });
        }
        let ext = self
            .extensions
            .take()
            .unwrap_or_else(|| Node::null(&Default::default()));
        seed.deserialize(NodeDe {
            node: &ext,
            path: self.path.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::yaml;
    use serde::Deserialize;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Port {
        target: u32,
        published: Option<String>,
        #[serde(rename = "x-", default)]
        ext: BTreeMap<String, serde_json::Value>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Svc {
        ports: Vec<Port>,
        init: Option<bool>,
    }

    fn doc(text: &str) -> Node {
        let f: Arc<Path> = Arc::from(Path::new("/c.yaml"));
        yaml::parse(text, &f).unwrap().remove(0)
    }

    #[test]
    fn reads_structs_with_casts_and_extensions() {
        let n = doc("ports:\n  - target: '80'\n    x-note: hi\ninit: 'true'\n");
        let s: Svc = from_node(&n, &KeyPath::root().key("services").key("web")).unwrap();
        assert_eq!(s.ports[0].target, 80);
        assert_eq!(s.ports[0].ext["x-note"], serde_json::json!("hi"));
        assert_eq!(s.init, Some(true));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_file_line_and_path() {
        let root = KeyPath::root().key("services").key("web");
        let n = doc("ports:\n  - target: 80\n  - target: 81\n    pubished: x\n");
        let e = from_node::<Svc>(&n, &root).unwrap_err();
        assert_eq!(e.path, "services.web.ports[1]");
        assert_eq!(e.loc.line, 4);
        assert!(e.message.contains("unknown key \"pubished\""), "{e}");
        let n = doc("ports:\n  - target: eighty\n");
        let e = from_node::<Svc>(&n, &root).unwrap_err();
        assert_eq!(e.path, "services.web.ports[0].target");
        assert_eq!(e.loc.line, 2);
        assert_eq!(e.to_string(), "/c.yaml:2: services.web.ports[0].target: must be an integer (u32), not the string \"eighty\"");
        let n = doc("ports: {a: 1}\n");
        let e = from_node::<Svc>(&n, &root).unwrap_err();
        assert_eq!(e.path, "services.web.ports");
        assert!(e.message.contains("must be a list"), "{e}");
        let n = doc("init: maybe\nports: []\n");
        let e = from_node::<Svc>(&n, &root).unwrap_err();
        assert_eq!(e.path, "services.web.init");
    }
}
