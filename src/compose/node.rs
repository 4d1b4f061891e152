//! The generic tree a compose file becomes before it is typed: YAML values
//! that remember which file and line they came from, so that every error
//! further down (interpolation, merge, validation) can name the file, the
//! line and the key path, as the brief asks.
//!
//! The loader works on this tree the way compose-go works on its
//! `map[string]any`: interpolation, `include`, `extends`, override merges
//! and the short→long rewrites all happen here, and only the final tree is
//! turned into the typed model (`types.rs`).

use indexmap::IndexMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where a node was written. `line` is 1-based; 0 means "made by berth"
/// (a default), which errors then leave out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loc {
    pub file: Option<Arc<Path>>,
    pub line: u32,
}

impl Loc {
    pub fn new(file: &Arc<Path>, line: u32) -> Loc {
        Loc {
            file: Some(file.clone()),
            line,
        }
    }

    /// `FILE:LINE`, `FILE` or nothing, for the front of an error message.
    pub fn describe(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), 0) => f.display().to_string(),
            (Some(f), l) => format!("{}:{l}", f.display()),
            (None, _) => String::new(),
        }
    }
}

/// The merge tags of the Compose Specification: `!reset` removes an
/// inherited value, `!override` replaces it instead of merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Reset,
    Override,
}

pub type Map = IndexMap<String, Node>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

/// One YAML value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// Where the value is.
    pub loc: Loc,
    /// For a mapping's value: the line of its key (errors about the key
    /// point there rather than at a value that may start a line later).
    pub key_line: u32,
    pub tag: Option<Tag>,
}

impl Node {
    pub fn new(value: Value, loc: Loc) -> Node {
        Node {
            value,
            loc,
            key_line: 0,
            tag: None,
        }
    }

    /// A node berth made (a default), placed at `loc` for error messages.
    pub fn at(value: Value, loc: &Loc) -> Node {
        Node::new(value, loc.clone())
    }

    pub fn str(s: impl Into<String>, loc: &Loc) -> Node {
        Node::at(Value::Str(s.into()), loc)
    }

    pub fn null(loc: &Loc) -> Node {
        Node::at(Value::Null, loc)
    }

    pub fn map(m: Map, loc: &Loc) -> Node {
        Node::at(Value::Map(m), loc)
    }

    pub fn seq(s: Vec<Node>, loc: &Loc) -> Node {
        Node::at(Value::Seq(s), loc)
    }

    /// The location to name in an error about this node: its key's line
    /// when it has one.
    pub fn error_loc(&self) -> Loc {
        let mut loc = self.loc.clone();
        if self.key_line != 0 {
            loc.line = self.key_line;
        }
        loc
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The member `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }

    /// A scalar as the text Compose would see after its YAML decoder:
    /// numbers and booleans in Go's spelling.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(go_float(*f)),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// What kind of value this is, for "must be a ..." errors.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A float as Go's `fmt.Sprint` writes it: integral values without a
/// fraction, others in the shortest form that reads back the same.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if !(-4..21).contains(&exp) {
        // Go writes 1e+21, 1e-05: an explicit sign and two digits at least.
        let s = format!("{f:e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", e.abs());
    }
    let s = format!("{f}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// A key path as users read it: `services.web.ports[1]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPath(String);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(String::new())
    }

    pub fn key(&self, k: &str) -> KeyPath {
        if self.0.is_empty() {
            KeyPath(k.to_string())
        } else {
            KeyPath(format!("{}.{k}", self.0))
        }
    }

    pub fn index(&self, i: usize) -> KeyPath {
        KeyPath(format!("{}[{i}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's segments without list indexes: `services.web.ports`.
    pub fn segments(&self) -> Vec<&str> {
        self.0
            .split('.')
            .map(|s| s.split('[').next().unwrap_or(s))
            .collect()
    }

    /// Whether the path matches a pattern such as `services.*.ports`
    /// (`*` matches one key; list indexes are ignored).
    pub fn matches(&self, pattern: &str) -> bool {
        let segs = self.segments();
        let pats: Vec<&str> = pattern.split('.').collect();
        segs.len() == pats.len() && segs.iter().zip(&pats).all(|(s, p)| *p == "*" || s == p)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An error in a compose file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeError {
    pub loc: Loc,
    pub path: String,
    pub message: String,
}

impl ComposeError {
    pub fn new(loc: &Loc, path: impl fmt::Display, message: impl Into<String>) -> ComposeError {
        ComposeError {
            loc: loc.clone(),
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// An error about a node, at its key's line.
    pub fn at(node: &Node, path: impl fmt::Display, message: impl Into<String>) -> ComposeError {
        ComposeError::new(&node.error_loc(), path, message)
    }

    /// An error that is about no place in particular.
    pub fn plain(message: impl Into<String>) -> ComposeError {
        ComposeError::new(&Loc::default(), "", message)
    }
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.loc.describe();
        if !loc.is_empty() {
            write!(f, "{loc}: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ComposeError {}

pub type Result<T> = std::result::Result<T, ComposeError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_users_write_them() {
        let p = KeyPath::root()
            .key("services")
            .key("web")
            .key("ports")
            .index(1);
        assert_eq!(p.to_string(), "services.web.ports[1]");
        assert!(p.matches("services.*.ports"));
        assert!(!p.matches("services.*"));
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.00001), "1e-05");
    }

    #[test]
    fn errors_name_file_line_and_path() {
        let file: Arc<Path> = Arc::from(Path::new("/p/compose.yaml"));
        let e = ComposeError::new(&Loc::new(&file, 7), "services.web", "unknown key \"foo\"");
        assert_eq!(
            e.to_string(),
            "/p/compose.yaml:7: services.web: unknown key \"foo\""
        );
    }
}
