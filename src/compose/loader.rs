//! Loading a project, in Docker Compose v2's order: the environment (the
//! process's, then `.env` or `--env-file`), the files (`-f`, else
//! `COMPOSE_FILE`, else `compose.yaml` and friends found in the working
//! directory or a parent, with their `compose.override.yaml`), the project
//! name (`-p`, `COMPOSE_PROJECT_NAME`, the files' `name:`, the directory),
//! then per file: interpolation, `include`, `extends`, the long syntax,
//! the merge into what came before; then relative paths, defaults and
//! the normalization `docker compose config` shows.

use super::canonical::canonical;
use super::dotenv;
use super::merge::{enforce_unicity, merge, strip_tags};
use super::node::{ComposeError, KeyPath, Loc, Map, Node, Result, Value};
use super::template::{Substitution, TemplateError};
use super::yaml;
use crate::util::path::go_clean;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The compose file names looked for, in Compose's order of preference.
pub const DEFAULT_FILES: &[&str] = &[
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
/// The override files merged after the one found.
pub const OVERRIDE_FILES: &[&str] = &[
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// What a command line says about the project: `berth compose`'s global
/// flags, the process environment and where it runs.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f`: files, `-` for standard input.
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (several).
    pub env_files: Vec<PathBuf>,
    /// `--profile` (several).
    pub profiles: Vec<String>,
    /// False for `--no-interpolate`.
    pub interpolate: bool,
    /// The process environment.
    pub environment: IndexMap<String, String>,
    /// The current directory.
    pub cwd: PathBuf,
    /// The text of standard input, when a file is `-`.
    pub stdin: Option<String>,
}

impl LoadOptions {
    /// Options for the current process: its environment and directory.
    pub fn from_process() -> std::io::Result<LoadOptions> {
        Ok(LoadOptions {
            interpolate: true,
            environment: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            cwd: std::env::current_dir()?,
            ..LoadOptions::default()
        })
    }
}

/// A loaded, normalized model before typing, with what was learnt on the way.
pub struct Loaded {
    pub name: String,
    pub working_dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The environment used for interpolation (process, then `.env`).
    pub environment: IndexMap<String, String>,
    pub profiles: Vec<String>,
    /// The normalized model.
    pub model: Node,
    /// Warnings to show the user (unset variables, obsolete `version`).
    pub warnings: Vec<String>,
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    PathBuf::from(go_clean(&joined.to_string_lossy()))
}

/// Compose's project name normalization: lowercase, only `[a-z0-9_-]`,
/// starting with a letter or digit.
pub fn normalize_project_name(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower.trim_start_matches(['_', '-']).to_string()
}

fn invalid_name(name: &str) -> ComposeError {
    ComposeError::plain(format!(
        "invalid project name {name:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
    ))
}

fn read_env_files(
    env: &mut IndexMap<String, String>,
    files: &[PathBuf],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut from_files: IndexMap<String, String> = IndexMap::new();
    for f in files {
        let meta = std::fs::metadata(f)
            .map_err(|_| ComposeError::plain(format!("couldn't find env file: {}", f.display())))?;
        if meta.is_dir() {
            return Err(ComposeError::plain(format!(
                "{} is a directory",
                f.display()
            )));
        }
        let text = std::fs::read_to_string(f)
            .map_err(|e| ComposeError::plain(format!("reading {}: {e}", f.display())))?;
        let current = env.clone();
        let lookup = |k: &str| current.get(k).cloned();
        dotenv::parse(&text, &mut from_files, &lookup, warnings).map_err(|e| {
            ComposeError::new(
                &Loc::new(&Arc::from(f.as_path()), e.line as u32),
                "",
                format!("failed to read {}: {}", f.display(), e.message),
            )
        })?;
    }
    // The process environment wins over files.
    for (k, v) in from_files {
        env.entry(k).or_insert(v);
    }
    Ok(())
}

fn find_files(names: &[&str], dir: &Path) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.exists())
        .collect()
}

/// Loads and normalizes a project. Typing and validation follow in
/// `project.rs`.
pub fn load(opts: &LoadOptions) -> Result<Loaded> {
    let mut warnings = Vec::new();
    let cwd = &opts.cwd;
    let project_dir = opts.project_directory.as_ref().map(|d| absolute(cwd, d));
    let mut env = opts.environment.clone();
    env.entry("PWD".into())
        .or_insert_with(|| cwd.to_string_lossy().into_owned());

    // The working directory as known before the files are: the project
    // directory, the first -f file's, or here.
    let early_dir = project_dir.clone().unwrap_or_else(|| {
        opts.files
            .iter()
            .find(|f| f.as_os_str() != "-")
            .and_then(|f| absolute(cwd, f).parent().map(Path::to_path_buf))
            .unwrap_or_else(|| cwd.clone())
    });
    let explicit_env_files: Vec<PathBuf> = if !opts.env_files.is_empty() {
        opts.env_files.iter().map(|f| absolute(cwd, f)).collect()
    } else if let Some(v) = env.get("COMPOSE_ENV_FILES").filter(|v| !v.is_empty()) {
        v.split(',')
            .map(|f| absolute(cwd, Path::new(f.trim())))
            .collect()
    } else {
        Vec::new()
    };
    let default_env_disabled = env
        .get("COMPOSE_DISABLE_ENV_FILE")
        .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "True"));
    let default_env_file = |dir: &Path| -> Vec<PathBuf> {
        let f = dir.join(".env");
        if !default_env_disabled && f.is_file() {
            vec![f]
        } else {
            Vec::new()
        }
    };
    let first_env_files = if explicit_env_files.is_empty() {
        default_env_file(&early_dir)
    } else {
        explicit_env_files.clone()
    };
    read_env_files(&mut env, &first_env_files, &mut warnings)?;

    // The files.
    let mut files: Vec<PathBuf> = opts
        .files
        .iter()
        .map(|f| {
            if f.as_os_str() == "-" {
                f.clone()
            } else {
                absolute(cwd, f)
            }
        })
        .collect();
    if files.is_empty() {
        if let Some(list) = env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
            let sep = env
                .get("COMPOSE_PATH_SEPARATOR")
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| ":".into());
            for f in list.split(sep.as_str()) {
                let p = absolute(cwd, Path::new(f));
                if !p.exists() {
                    return Err(ComposeError::plain(format!(
                        "COMPOSE_FILE names {}, which does not exist",
                        p.display()
                    )));
                }
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        let mut dir = project_dir.clone().unwrap_or_else(|| cwd.clone());
        loop {
            let found = find_files(DEFAULT_FILES, &dir);
            if let Some(winner) = found.first() {
                if found.len() > 1 {
                    let names: Vec<String> =
                        found.iter().map(|f| f.display().to_string()).collect();
                    warnings.push(format!(
                        "Found multiple config files with supported names: {}",
                        names.join(", ")
                    ));
                    warnings.push(format!("Using {}", winner.display()));
                }
                files.push(winner.clone());
                let overrides = find_files(OVERRIDE_FILES, &dir);
                if let Some(o) = overrides.first() {
                    if overrides.len() > 1 {
                        let names: Vec<String> =
                            overrides.iter().map(|f| f.display().to_string()).collect();
                        warnings.push(format!(
                            "Found multiple override files with supported names: {}",
                            names.join(", ")
                        ));
                        warnings.push(format!("Using {}", o.display()));
                    }
                    files.push(o.clone());
                }
                break;
            }
            match dir.parent() {
                Some(p) => dir = p.to_path_buf(),
                None => {
                    return Err(ComposeError::plain(
                        "no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yml and docker-compose.yaml here and in every parent directory)",
                    ))
                }
            }
        }
    }
    let working_dir = project_dir.clone().unwrap_or_else(|| {
        files
            .iter()
            .find(|f| f.as_os_str() != "-")
            .and_then(|f| f.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| cwd.clone())
    });
    // A .env beside the files, when the project directory became known
    // only now (values already set win).
    if explicit_env_files.is_empty() && working_dir != early_dir {
        read_env_files(&mut env, &default_env_file(&working_dir), &mut warnings)?;
    }

    let profiles: Vec<String> = if !opts.profiles.is_empty() {
        opts.profiles.clone()
    } else {
        env.get("COMPOSE_PROFILES")
            .map(|p| {
                p.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };

    // Read the files once; their `name:` may name the project.
    let mut docs: Vec<(PathBuf, Vec<Node>)> = Vec::new();
    for f in &files {
        let (label, text) = if f.as_os_str() == "-" {
            (
                PathBuf::from("-"),
                opts.stdin.clone().ok_or_else(|| {
                    ComposeError::plain("a compose file is `-` but standard input was not read")
                })?,
            )
        } else {
            let text = std::fs::read_to_string(f)
                .map_err(|e| ComposeError::plain(format!("reading {}: {e}", f.display())))?;
            (f.clone(), text)
        };
        let rc: Arc<Path> = Arc::from(label.as_path());
        docs.push((label, yaml::parse(&text, &rc)?));
    }

    let name = project_name(opts, &env, &docs, &working_dir, &mut warnings)?;
    env.insert("COMPOSE_PROJECT_NAME".into(), name.clone());

    let mut ctx = Ctx {
        env: &env,
        interpolate: opts.interpolate,
        warnings: &mut warnings,
        included: Vec::new(),
    };
    let mut model = Node::map(Map::new(), &Loc::default());
    for (file, file_docs) in docs {
        for doc in file_docs {
            model = ctx.apply_document(model, doc, &file, &working_dir)?;
        }
    }
    if model.as_map().is_none_or(|m| m.is_empty()) {
        return Err(ComposeError::plain("empty compose file"));
    }
    resolve_paths(&mut model, &working_dir, &env);
    resolve_environment(&mut model, &env);
    normalize(&mut model, &name, &env);
    Ok(Loaded {
        name,
        working_dir,
        files,
        environment: env,
        profiles,
        model,
        warnings,
    })
}

fn project_name(
    opts: &LoadOptions,
    env: &IndexMap<String, String>,
    docs: &[(PathBuf, Vec<Node>)],
    working_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<String> {
    if let Some(n) = opts.project_name.as_deref().filter(|n| !n.is_empty()) {
        if normalize_project_name(n) != n {
            return Err(invalid_name(n));
        }
        return Ok(n.to_string());
    }
    if let Some(n) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        if normalize_project_name(n) != *n {
            return Err(invalid_name(n));
        }
        return Ok(n.clone());
    }
    let mut from_files: Option<Node> = None;
    for (_, file_docs) in docs {
        for d in file_docs {
            if let Some(n) = d
                .get("name")
                .filter(|n| n.scalar_text().is_some_and(|t| !t.is_empty()))
            {
                from_files = Some(n.clone());
            }
        }
    }
    if let Some(n) = from_files {
        let text = n.scalar_text().unwrap_or_default();
        let text = if opts.interpolate {
            let lookup = |k: &str| env.get(k).cloned();
            let mut s = Substitution::new(&lookup);
            let t = s
                .substitute(&text)
                .map_err(|e| template_error(&n, &KeyPath::root().key("name"), e))?;
            warnings.extend(s.warnings);
            t
        } else {
            text
        };
        let normalized = normalize_project_name(&text);
        if !normalized.is_empty() {
            return Ok(normalized);
        }
    }
    let dir_name = working_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = normalize_project_name(&dir_name);
    if name.is_empty() {
        return Err(ComposeError::plain(format!(
            "project name must not be empty: the directory {} gives none; set one with -p, COMPOSE_PROJECT_NAME or `name:`",
            working_dir.display()
        )));
    }
    Ok(name)
}

fn template_error(node: &Node, path: &KeyPath, e: TemplateError) -> ComposeError {
    let message = match e {
        TemplateError::Invalid { template } => format!(
            "invalid interpolation format in {template:?}: you may need to escape any $ with another $"
        ),
        e => format!("error while interpolating: {e}"),
    };
    ComposeError::at(node, path, message)
}

/// Interpolates every string value (never keys) of a tree.
pub fn interpolate(
    node: &mut Node,
    path: &KeyPath,
    env: &IndexMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    match &mut node.value {
        Value::Str(s) if s.contains('$') => {
            let lookup = |k: &str| env.get(k).cloned();
            let mut sub = Substitution::new(&lookup);
            let out = sub.substitute(s);
            for w in sub.warnings {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            match out {
                Ok(v) => *s = v,
                Err(e) => return Err(template_error(node, path, e)),
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &path.index(i), env, warnings)?;
            }
        }
        Value::Map(m) => {
            for (k, v) in m.iter_mut() {
                interpolate(v, &path.key(k), env, warnings)?;
            }
        }
        _ => {}
    }
    Ok(())
}

struct Ctx<'a> {
    env: &'a IndexMap<String, String>,
    interpolate: bool,
    warnings: &'a mut Vec<String>,
    /// The files being included, outermost first, to detect cycles.
    included: Vec<PathBuf>,
}

impl Ctx<'_> {
    /// One YAML document of a file, merged into `model`.
    fn apply_document(
        &mut self,
        model: Node,
        mut doc: Node,
        file: &Path,
        dir: &Path,
    ) -> Result<Node> {
        if doc.is_null() {
            return Ok(model);
        }
        if doc.as_map().is_none() {
            return Err(ComposeError::at(
                &doc,
                "",
                format!("top-level object must be a mapping, not {}", doc.kind()),
            ));
        }
        if self.interpolate {
            interpolate(&mut doc, &KeyPath::root(), self.env, self.warnings)?;
        }
        if doc.get("version").is_some() {
            let w = format!(
                "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                file.display()
            );
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
            doc.as_map_mut().map(|m| m.shift_remove("version"));
        }
        canonical(&mut doc)?;
        if doc.get("include").is_some() {
            self.apply_include(&mut doc, file, dir)?;
        }
        self.apply_extends(&mut doc, file, dir, &mut Vec::new())?;
        let mut merged = merge(model, doc, &KeyPath::root())?;
        strip_tags(&mut merged);
        enforce_unicity(&mut merged, &KeyPath::root());
        Ok(merged)
    }

    fn apply_include(&mut self, doc: &mut Node, file: &Path, dir: &Path) -> Result<()> {
        let include = doc
            .as_map_mut()
            .and_then(|m| m.shift_remove("include"))
            .unwrap();
        let Value::Seq(entries) = include.value else {
            return Err(ComposeError::at(&include, "include", "must be a list"));
        };
        let mut chain = self.included.clone();
        chain.push(file.to_path_buf());
        for (i, entry) in entries.into_iter().enumerate() {
            let path = KeyPath::root().key("include").index(i);
            let get_list = |k: &str| -> Vec<String> {
                match entry.get(k).map(|n| &n.value) {
                    Some(Value::Str(s)) => vec![s.clone()],
                    Some(Value::Seq(items)) => items.iter().filter_map(Node::scalar_text).collect(),
                    _ => Vec::new(),
                }
            };
            for k in entry
                .as_map()
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if !matches!(k.as_str(), "path" | "project_directory" | "env_file")
                    && !k.starts_with("x-")
                {
                    return Err(ComposeError::at(
                        &entry,
                        &path,
                        format!("unknown key {k:?}"),
                    ));
                }
            }
            let paths: Vec<PathBuf> = get_list("path")
                .iter()
                .map(|p| absolute(dir, Path::new(p)))
                .collect();
            let Some(main) = paths.first() else {
                return Err(ComposeError::at(&entry, &path, "`path` is required"));
            };
            if chain.contains(main) {
                let mut names: Vec<String> =
                    chain.iter().map(|p| p.display().to_string()).collect();
                names.push(main.display().to_string());
                return Err(ComposeError::at(
                    &entry,
                    &path,
                    format!("include cycle detected:\n{}", names.join("\n include ")),
                ));
            }
            let project_dir = match entry.get("project_directory").and_then(Node::scalar_text) {
                Some(d) => absolute(dir, Path::new(&d)),
                None => main
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf()),
            };
            let env_files: Vec<PathBuf> = {
                let listed = get_list("env_file");
                if listed.is_empty() {
                    let f = project_dir.join(".env");
                    if f.is_file() {
                        vec![f]
                    } else {
                        Vec::new()
                    }
                } else {
                    listed
                        .iter()
                        .filter(|f| f.as_str() != "/dev/null")
                        .map(|f| absolute(dir, Path::new(f)))
                        .collect()
                }
            };
            let mut env = self.env.clone();
            read_env_files(&mut env, &env_files, self.warnings)?;
            let mut sub = Ctx {
                env: &env,
                interpolate: self.interpolate,
                warnings: self.warnings,
                included: chain.clone(),
            };
            let mut imported = Node::map(Map::new(), &Loc::default());
            for p in &paths {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    ComposeError::at(&entry, &path, format!("reading {}: {e}", p.display()))
                })?;
                let rc: Arc<Path> = Arc::from(p.as_path());
                for d in yaml::parse(&text, &rc)? {
                    imported = sub.apply_document(imported, d, p, &project_dir)?;
                }
            }
            resolve_paths(&mut imported, &project_dir, &env);
            // The including file's definitions win over the included ones.
            let target = doc.as_map_mut().expect("checked to be a mapping");
            for kind in [
                "services", "volumes", "networks", "secrets", "configs", "models",
            ] {
                let Some(Value::Map(from)) = imported
                    .as_map_mut()
                    .and_then(|m| m.shift_remove(kind))
                    .map(|n| n.value)
                else {
                    continue;
                };
                let to = target
                    .entry(kind.to_string())
                    .or_insert_with(|| Node::map(Map::new(), &Loc::default()));
                if to.is_null() {
                    to.value = Value::Map(Map::new());
                }
                let to_map = to
                    .as_map_mut()
                    .ok_or_else(|| ComposeError::plain(format!("{kind} must be a mapping")))?;
                for (name, res) in from {
                    match to_map.shift_remove(&name) {
                        None => {
                            to_map.insert(name, res);
                        }
                        Some(local) => {
                            let m = merge(res, local, &KeyPath::root().key(kind).key(&name))?;
                            to_map.insert(name, m);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Resolves `extends` in the services of `doc`, a file at `file` whose
    /// relative paths are relative to `dir`.
    fn apply_extends(
        &mut self,
        doc: &mut Node,
        file: &Path,
        dir: &Path,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<()> {
        let names: Vec<String> = match doc.get("services").and_then(Node::as_map) {
            Some(m) => m.keys().cloned().collect(),
            None => return Ok(()),
        };
        for name in names {
            self.extend_service(doc, &name, file, dir, chain)?;
        }
        Ok(())
    }

    fn extend_service(
        &mut self,
        doc: &mut Node,
        name: &str,
        file: &Path,
        dir: &Path,
        chain: &mut Vec<(PathBuf, String)>,
    ) -> Result<()> {
        let services = doc
            .get("services")
            .and_then(Node::as_map)
            .cloned()
            .unwrap_or_default();
        let Some(service) = services.get(name) else {
            return Ok(());
        };
        let Some(ext) = service.get("extends").cloned() else {
            return Ok(());
        };
        let spath = KeyPath::root().key("services").key(name);
        let Some(reference) = ext.get("service").and_then(Node::scalar_text) else {
            return Err(ComposeError::at(
                &ext,
                spath.key("extends"),
                "`service` is required",
            ));
        };
        let me = (file.to_path_buf(), name.to_string());
        if chain.contains(&me) {
            let mut lines = vec!["Circular reference:".to_string()];
            let mut all = chain.clone();
            all.push(me);
            lines.push(format!("  {} in {}", all[0].1, all[0].0.display()));
            for (f, s) in &all[1..] {
                lines.push(format!("  extends {s} in {}", f.display()));
            }
            return Err(ComposeError::at(
                &ext,
                spath.key("extends"),
                lines.join("\n"),
            ));
        }
        chain.push(me);
        let base = match ext.get("file").and_then(Node::scalar_text) {
            Some(other) => {
                let other = absolute(dir, Path::new(&other));
                let text = std::fs::read_to_string(&other).map_err(|e| {
                    ComposeError::at(
                        &ext,
                        spath.key("extends").key("file"),
                        format!("reading {}: {e}", other.display()),
                    )
                })?;
                let rc: Arc<Path> = Arc::from(other.as_path());
                let other_dir = other
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf());
                let mut other_doc = Node::map(Map::new(), &Loc::default());
                for mut d in yaml::parse(&text, &rc)? {
                    if d.is_null() {
                        continue;
                    }
                    if self.interpolate {
                        interpolate(&mut d, &KeyPath::root(), self.env, self.warnings)?;
                    }
                    canonical(&mut d)?;
                    other_doc = merge(other_doc, d, &KeyPath::root())?;
                }
                if other_doc
                    .get("services")
                    .and_then(|s| s.get(&reference))
                    .is_none()
                {
                    return Err(ComposeError::at(
                        &ext,
                        spath.key("extends"),
                        format!(
                            "cannot extend service {name:?}: service {reference:?} not found in {}",
                            other.display()
                        ),
                    ));
                }
                self.extend_service(&mut other_doc, &reference, &other, &other_dir, chain)?;
                let mut b = other_doc
                    .get("services")
                    .and_then(|s| s.get(&reference))
                    .cloned()
                    .unwrap();
                // Its relative paths are relative to its own file.
                let mut wrapper = Node::map(Map::new(), &Loc::default());
                let mut services = Map::new();
                services.insert(reference.clone(), b);
                wrapper
                    .as_map_mut()
                    .unwrap()
                    .insert("services".into(), Node::map(services, &Loc::default()));
                resolve_paths(&mut wrapper, &other_dir, self.env);
                b = wrapper
                    .get("services")
                    .and_then(|s| s.get(&reference))
                    .cloned()
                    .unwrap();
                b
            }
            None => {
                if !services.contains_key(&reference) {
                    return Err(ComposeError::at(
                        &ext,
                        spath.key("extends"),
                        format!(
                            "cannot extend service {name:?} in {}: service {reference:?} not found",
                            file.display()
                        ),
                    ));
                }
                self.extend_service(doc, &reference, file, dir, chain)?;
                doc.get("services")
                    .and_then(|s| s.get(&reference))
                    .cloned()
                    .unwrap()
            }
        };
        chain.pop();
        let mut own = services.get(name).cloned().unwrap();
        own.as_map_mut().map(|m| m.shift_remove("extends"));
        let mut base = base;
        base.as_map_mut().map(|m| m.shift_remove("extends"));
        let key_line = own.key_line;
        let mut merged = merge(base, own, &KeyPath::root().key("services").key("x"))?;
        merged.key_line = key_line;
        if let Some(s) = doc.get_mut("services").and_then(Node::as_map_mut) {
            s.insert(name.to_string(), merged);
        }
        Ok(())
    }
}

/// `~` and relative paths made absolute against `dir`.
fn abs_path(p: &str, dir: &Path, env: &IndexMap<String, String>) -> String {
    let expanded = if p == "~" || p.starts_with("~/") {
        match env.get("HOME") {
            Some(home) => format!("{home}{}", &p[1..]),
            None => p.to_string(),
        }
    } else {
        p.to_string()
    };
    if expanded.is_empty() || expanded.starts_with('/') {
        return expanded;
    }
    go_clean(&dir.join(&expanded).to_string_lossy())
}

fn is_remote_context(v: &str) -> bool {
    v.contains("://")
        || v.starts_with("service:")
        || [
            "https://",
            "http://",
            "git://",
            "ssh://",
            "github.com/",
            "git@",
        ]
        .iter()
        .any(|p| v.starts_with(p))
}

/// Makes the paths Compose resolves absolute against `dir`.
pub fn resolve_paths(model: &mut Node, dir: &Path, env: &IndexMap<String, String>) {
    let fix = |n: &mut Node| {
        if let Value::Str(s) = &n.value {
            n.value = Value::Str(abs_path(s, dir, env));
        }
    };
    if let Some(services) = model.get_mut("services").and_then(Node::as_map_mut) {
        for s in services.values_mut() {
            if let Some(b) = s.get_mut("build").and_then(Node::as_map_mut) {
                if let Some(c) = b.get_mut("context") {
                    if c.as_str().is_some_and(|v| !is_remote_context(v)) {
                        fix(c);
                    }
                }
                if let Some(ac) = b.get_mut("additional_contexts").and_then(Node::as_map_mut) {
                    for c in ac.values_mut() {
                        if c.as_str().is_some_and(|v| !is_remote_context(v)) {
                            fix(c);
                        }
                    }
                }
            }
            if let Some(Value::Seq(files)) = s.get_mut("env_file").map(|n| &mut n.value) {
                for f in files {
                    if let Some(p) = f.get_mut("path") {
                        fix(p);
                    }
                }
            }
            if let Some(Value::Seq(files)) = s.get_mut("label_file").map(|n| &mut n.value) {
                files.iter_mut().for_each(fix);
            }
            if let Some(Value::Seq(vols)) = s.get_mut("volumes").map(|n| &mut n.value) {
                for v in vols {
                    if v.get("type").and_then(Node::as_str) == Some("bind") {
                        if let Some(src) = v.get_mut("source") {
                            fix(src);
                        }
                    }
                }
            }
            if let Some(f) = s.get_mut("extends").and_then(|e| e.get_mut("file")) {
                fix(f);
            }
        }
    }
    for kind in ["secrets", "configs"] {
        if let Some(m) = model.get_mut(kind).and_then(Node::as_map_mut) {
            for r in m.values_mut() {
                if let Some(f) = r.get_mut("file") {
                    fix(f);
                }
            }
        }
    }
    if let Some(m) = model.get_mut("volumes").and_then(Node::as_map_mut) {
        for v in m.values_mut() {
            if v.get("driver").and_then(Node::as_str) != Some("local") {
                continue;
            }
            if let Some(opts) = v.get_mut("driver_opts").and_then(Node::as_map_mut) {
                if opts.get("o").and_then(Node::as_str) == Some("bind") {
                    if let Some(d) = opts.get_mut("device") {
                        fix(d);
                    }
                }
            }
        }
    }
}

/// `environment: [FOO]` takes FOO from the project environment, as
/// compose-go's `ResolveEnvironment` does; secrets and configs from
/// `environment:` get their content.
fn resolve_environment(model: &mut Node, env: &IndexMap<String, String>) {
    if let Some(services) = model.get_mut("services").and_then(Node::as_map_mut) {
        for s in services.values_mut() {
            if let Some(Value::Seq(items)) = s.get_mut("environment").map(|n| &mut n.value) {
                for item in items {
                    if let Value::Str(v) = &item.value {
                        if !v.contains('=') {
                            if let Some(found) = env.get(v) {
                                item.value = Value::Str(format!("{v}={found}"));
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(configs) = model.get_mut("configs").and_then(Node::as_map_mut) {
        for c in configs.values_mut() {
            let found = c
                .get("environment")
                .and_then(Node::as_str)
                .and_then(|e| env.get(e))
                .cloned();
            if let (Some(found), Some(m)) = (found, c.as_map_mut()) {
                let loc = Loc::default();
                m.insert("content".into(), Node::str(found, &loc));
            }
        }
    }
}

/// What `docker compose config` shows beyond the files: the default
/// network, resource names, build defaults, implicit dependencies.
fn normalize(model: &mut Node, name: &str, env: &IndexMap<String, String>) {
    let loc = Loc::default();
    let root = model.as_map_mut().expect("the model is a mapping");
    let mut uses_default_network = false;
    if let Some(services) = root.get_mut("services").and_then(Node::as_map_mut) {
        for s in services.values_mut() {
            if s.is_null() {
                s.value = Value::Map(Map::new());
            }
            let Some(svc) = s.as_map_mut() else { continue };
            if svc.get("pull_policy").and_then(Node::as_str) == Some("if_not_present") {
                svc.insert("pull_policy".into(), Node::str("missing", &loc));
            }
            if let Some(b) = svc.get_mut("build").and_then(Node::as_map_mut) {
                if b.get("context").is_none_or(Node::is_null) {
                    b.insert("context".into(), Node::str(".", &loc));
                }
                if b.get("dockerfile").is_none_or(Node::is_null)
                    && b.get("dockerfile_inline").is_none_or(Node::is_null)
                {
                    b.insert("dockerfile".into(), Node::str("Dockerfile", &loc));
                }
                if let Some(args) = b.get_mut("args") {
                    resolve_pairs(args, env, false);
                }
            }
            if let Some(e) = svc.get_mut("environment") {
                resolve_pairs(e, env, true);
            }
            // Implicit dependencies: links, shared namespaces, volumes_from.
            let mut deps: Map = match svc.get("depends_on").and_then(Node::as_map) {
                Some(m) => m.clone(),
                None => Map::new(),
            };
            let dep = |restart: bool| {
                let mut d = Map::new();
                d.insert("condition".into(), Node::str("service_started", &loc));
                d.insert("restart".into(), Node::at(Value::Bool(restart), &loc));
                d.insert("required".into(), Node::at(Value::Bool(true), &loc));
                Node::map(d, &loc)
            };
            if let Some(Value::Seq(links)) = svc.get("links").map(|n| &n.value) {
                for l in links {
                    if let Some(t) = l.as_str() {
                        let target = t.split(':').next().unwrap_or(t).to_string();
                        deps.entry(target).or_insert_with(|| dep(true));
                    }
                }
            }
            for ns in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
                if let Some(shared) = svc
                    .get(ns)
                    .and_then(Node::as_str)
                    .and_then(|v| v.strip_prefix("service:"))
                {
                    deps.entry(shared.to_string()).or_insert_with(|| dep(true));
                }
            }
            if let Some(Value::Seq(from)) = svc.get("volumes_from").map(|n| &n.value) {
                for v in from {
                    if let Some(t) = v.as_str().filter(|t| !t.starts_with("container:")) {
                        let target = t.split(':').next().unwrap_or(t).to_string();
                        deps.entry(target).or_insert_with(|| dep(false));
                    }
                }
            }
            if !deps.is_empty() {
                svc.insert("depends_on".into(), Node::map(deps, &loc));
            }
            // compose-go's default values.
            if let Some(Value::Seq(ports)) = svc.get_mut("ports").map(|n| &mut n.value) {
                for p in ports.iter_mut().filter_map(Node::as_map_mut) {
                    p.entry("protocol".into())
                        .or_insert_with(|| Node::str("tcp", &loc));
                    p.entry("mode".into())
                        .or_insert_with(|| Node::str("ingress", &loc));
                }
            }
            if let Some(Value::Seq(secrets)) = svc.get_mut("secrets").map(|n| &mut n.value) {
                for sec in secrets.iter_mut().filter_map(Node::as_map_mut) {
                    if !sec.contains_key("target") {
                        let source = sec
                            .get("source")
                            .and_then(Node::scalar_text)
                            .unwrap_or_default();
                        sec.insert(
                            "target".into(),
                            Node::str(format!("/run/secrets/{source}"), &loc),
                        );
                    }
                }
            }
            if let Some(Value::Seq(vols)) = svc.get_mut("volumes").map(|n| &mut n.value) {
                for v in vols {
                    if let Some(t) = v.get_mut("target") {
                        if let Value::Str(s) = &t.value {
                            t.value = Value::Str(go_clean(s));
                        }
                    }
                }
            }
            if svc.contains_key("provider") || svc.contains_key("network_mode") {
                continue;
            }
            match svc.get("networks").and_then(Node::as_map) {
                None => {
                    let mut n = Map::new();
                    n.insert("default".into(), Node::null(&loc));
                    svc.insert("networks".into(), Node::map(n, &loc));
                    uses_default_network = true;
                }
                Some(n) if n.is_empty() => {
                    let mut n = Map::new();
                    n.insert("default".into(), Node::null(&loc));
                    svc.insert("networks".into(), Node::map(n, &loc));
                    uses_default_network = true;
                }
                Some(n) => uses_default_network |= n.contains_key("default"),
            }
        }
    }
    if uses_default_network {
        let nets = root
            .entry("networks".into())
            .or_insert_with(|| Node::map(Map::new(), &loc));
        if nets.is_null() {
            nets.value = Value::Map(Map::new());
        }
        if let Some(m) = nets.as_map_mut() {
            m.entry("default".into())
                .or_insert_with(|| Node::null(&loc));
        }
    }
    for kind in ["networks", "volumes", "configs", "secrets"] {
        let Some(res) = root.get_mut(kind).and_then(Node::as_map_mut) else {
            continue;
        };
        for (key, r) in res.iter_mut() {
            if r.is_null() {
                r.value = Value::Map(Map::new());
            }
            let Some(m) = r.as_map_mut() else { continue };
            if m.get("name").is_none_or(Node::is_null) {
                let external = m.get("external").is_some_and(|x| {
                    matches!(x.value, Value::Bool(true)) || x.as_str() == Some("true")
                });
                let n = if external {
                    key.clone()
                } else {
                    format!("{name}_{key}")
                };
                m.insert("name".into(), Node::str(n, &loc));
            }
        }
    }
    root.insert("name".into(), Node::str(name, &loc));
    root.move_index(root.len() - 1, 0);
}

/// `KEY` without a value takes the environment's value; without one in
/// the environment it stays null (`keep_empty`) or goes.
fn resolve_pairs(node: &mut Node, env: &IndexMap<String, String>, keep_empty: bool) {
    match &mut node.value {
        Value::Map(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if m.get(&k).is_some_and(Node::is_null) {
                    match env.get(&k) {
                        Some(v) => {
                            let loc = m[&k].loc.clone();
                            m.insert(k, Node::str(v.clone(), &loc));
                        }
                        None if keep_empty => {}
                        None => {
                            m.shift_remove(&k);
                        }
                    }
                }
            }
        }
        Value::Seq(items) => {
            items.retain_mut(|item| {
                let Some(v) = item.as_str().map(str::to_string) else {
                    return true;
                };
                if v.contains('=') {
                    return true;
                }
                match env.get(&v) {
                    Some(found) => {
                        item.value = Value::Str(format!("{v}={found}"));
                        true
                    }
                    None => keep_empty,
                }
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_normalize_as_compose() {
        assert_eq!(normalize_project_name("My App.v2"), "myappv2");
        assert_eq!(normalize_project_name("__x-Y"), "x-y");
        assert_eq!(normalize_project_name("..."), "");
    }
}
