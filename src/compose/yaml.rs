//! Reading YAML into [`Node`] trees with serde-saphyr, which expands
//! anchors, aliases and merge keys (`<<`) and bounds alias bombs, and gives
//! each value its line. The options follow compose-go's YAML decoder
//! (go-yaml): YAML 1.2 booleans only (`yes`, `on` stay strings), legacy
//! octal numbers (`0755` is 493, as Go's base-0 integer parse reads it),
//! duplicate keys rejected.

use super::node::{ComposeError, Loc, Map, Node, Result, Tag, Value};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Spanned, Tagged};
use std::path::Path;
use std::sync::Arc;

/// What serde-saphyr hands us: a value, its resolved tag and its place.
type RawNode = Spanned<Tagged<Raw>>;

enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<RawNode>),
    Map(Vec<(Spanned<String>, RawNode)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E>(self) -> std::result::Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> std::result::Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Raw, E> {
                Ok(i64::try_from(v)
                    .map(Raw::Int)
                    .unwrap_or(Raw::Float(v as f64)))
            }
            fn visit_i128<E>(self, v: i128) -> std::result::Result<Raw, E> {
                Ok(i64::try_from(v)
                    .map(Raw::Int)
                    .unwrap_or(Raw::Float(v as f64)))
            }
            fn visit_u128<E>(self, v: u128) -> std::result::Result<Raw, E> {
                Ok(i64::try_from(v)
                    .map(Raw::Int)
                    .unwrap_or(Raw::Float(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Raw, E> {
                Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = a.next_element::<RawNode>()? {
                    items.push(n);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = a.next_key::<Spanned<KeyText>>()? {
                    let v = a.next_value::<RawNode>()?;
                    entries.push((Spanned::new(k.value.0, k.referenced, k.defined), v));
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

/// A mapping key: Compose keys are strings, but YAML lets `80: x` or
/// `true: x` through; like compose-go we take their text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<KeyText, E> {
                Ok(KeyText(super::node::go_float(v)))
            }
            fn visit_unit<E>(self) -> std::result::Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
            fn visit_none<E>(self) -> std::result::Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        legacy_octal_numbers: true,
        with_snippet: false,
    }
}

/// Parses a compose file's text: one tree per YAML document (compose-go
/// applies each document in turn). An empty file has no documents.
pub fn parse(text: &str, file: &Arc<Path>) -> Result<Vec<Node>> {
    // A byte order mark is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let docs: Vec<RawNode> =
        serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| {
            let line = e.location().map(|l| l.line() as u32).unwrap_or(0);
            let message = yaml_error_text(&e);
            ComposeError::new(&Loc::new(file, line), "", message)
        })?;
    Ok(docs.into_iter().map(|d| convert(d, file)).collect())
}

/// serde-saphyr's message without its own location suffix (we print the
/// file and line in front, as for every other compose error).
fn yaml_error_text(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    let trimmed = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    format!("invalid YAML: {trimmed}")
}

fn convert(raw: RawNode, file: &Arc<Path>) -> Node {
    let line = raw.referenced.line() as u32;
    let Tagged(value, tag) = raw.value;
    let value = match value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| convert(n, file)).collect()),
        Raw::Map(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries {
                let mut node = convert(v, file);
                node.key_line = k.referenced.line() as u32;
                map.insert(k.value, node);
            }
            Value::Map(map)
        }
    };
    let tag = match tag.as_deref() {
        Some("!reset") => Some(Tag::Reset),
        Some("!override") => Some(Tag::Override),
        _ => None,
    };
    Node {
        value,
        loc: Loc::new(file, line),
        key_line: 0,
        tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Arc<Path> {
        Arc::from(Path::new("/p/compose.yaml"))
    }

    #[test]
    fn anchors_aliases_and_merge_keys_expand() {
        let text = "x-base: &base\n  image: busybox\n  environment:\n    A: yes\nservices:\n  web:\n    <<: *base\n    command: [\"a\", 1, 0755]\n";
        let doc = parse(text, &file()).unwrap().remove(0);
        let web = doc.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("busybox"));
        // YAML 1.2 booleans only: `yes` stays a string, as with go-yaml.
        assert_eq!(
            web.get("environment").unwrap().get("A").unwrap().as_str(),
            Some("yes")
        );
        let cmd = web.get("command").unwrap().as_seq().unwrap();
        assert_eq!(cmd[1].value, Value::Int(1));
        assert_eq!(cmd[2].value, Value::Int(0o755));
        assert_eq!(web.get("command").unwrap().key_line, 8);
    }

    #[test]
    fn merge_tags_are_kept() {
        let doc = parse("a: !reset []\nb: !override {x: 1}\n", &file())
            .unwrap()
            .remove(0);
        assert_eq!(doc.get("a").unwrap().tag, Some(Tag::Reset));
        assert_eq!(doc.get("b").unwrap().tag, Some(Tag::Override));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("services:\n  web:\n    image: [a\n", &file()).unwrap_err();
        assert_eq!(e.loc.file.as_deref(), Some(Path::new("/p/compose.yaml")));
        assert!(e.loc.line >= 3, "{e}");
        let e = parse("a: 1\na: 2\n", &file()).unwrap_err();
        assert_eq!(e.loc.line, 2, "{e}");
    }

    #[test]
    fn an_empty_file_has_no_documents() {
        assert!(parse("", &file()).unwrap().is_empty());
        assert!(parse("# only a comment\n", &file()).unwrap().is_empty());
    }
}
