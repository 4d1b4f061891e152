//! A loaded project, typed and checked: what `up`, `down` and the other
//! orchestration commands work from. Services come in dependency order
//! (dependencies first); each has the configuration hash Docker Compose
//! labels its containers with (`com.docker.compose.config-hash`) and the
//! container names `PROJECT-SERVICE-N`.

use super::de::from_node;
use super::dotenv;
use super::loader::{self, LoadOptions};
use super::node::{ComposeError, KeyPath, Result};
use super::output;
use super::types::{Model, Service};
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A normalized compose project.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// The project directory: relative paths in the files are relative to it.
    pub working_dir: PathBuf,
    /// The compose files, absolute (`-` for standard input).
    pub files: Vec<PathBuf>,
    /// The environment interpolation used (process, then `.env`).
    pub environment: IndexMap<String, String>,
    /// The active profiles.
    pub profiles: Vec<String>,
    /// The enabled services, networks, volumes, secrets and configs.
    pub model: Model,
    /// Services their profiles leave out.
    pub disabled: BTreeMap<String, Service>,
    /// Warnings for the user (unset variables, obsolete `version`).
    pub warnings: Vec<String>,
}

/// Which services to keep after loading.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Services named on the command line (enabled even when their
    /// profile is not, with their dependencies). Empty: all.
    pub services: Vec<String>,
    /// Read `env_file`s into `environment` (what containers get).
    pub resolve_env_files: bool,
    /// Keep networks, volumes, secrets and configs no service uses
    /// (`--all-resources`); Compose drops them by default.
    pub all_resources: bool,
}

impl Project {
    /// A project named `p` from YAML text, for unit tests.
    #[cfg(test)]
    pub(crate) fn from_yaml(yaml: &str) -> Project {
        let opts = LoadOptions {
            files: vec!["-".into()],
            project_name: Some("p".into()),
            interpolate: true,
            cwd: std::env::temp_dir(),
            stdin: Some(yaml.into()),
            ..LoadOptions::default()
        };
        Project::load(&opts, &Selection::default()).unwrap()
    }

    /// Loads the project the options describe.
    pub fn load(opts: &LoadOptions, selection: &Selection) -> Result<Project> {
        let loaded = loader::load(opts)?;
        let mut model: Model = from_node(&loaded.model, &KeyPath::root())?;
        for (name, s) in model.services.iter_mut() {
            s.name = name.clone();
        }
        let mut project = Project {
            name: loaded.name,
            working_dir: loaded.working_dir,
            files: loaded.files,
            environment: loaded.environment,
            profiles: loaded.profiles,
            model,
            disabled: BTreeMap::new(),
            warnings: loaded.warnings,
        };
        project.apply_profiles(&selection.services)?;
        project.check_consistency()?;
        project.dependency_order()?;
        if !selection.services.is_empty() {
            project.select(&selection.services)?;
        }
        if !selection.all_resources {
            project.prune_unused();
        }
        if selection.resolve_env_files {
            project.resolve_env_files()?;
        }
        Ok(project)
    }

    /// Moves services whose profiles are not active to `disabled`; those
    /// named explicitly stay, as Compose enables them.
    fn apply_profiles(&mut self, named: &[String]) -> Result<()> {
        let active = |s: &Service| {
            s.profiles.is_empty()
                || self
                    .profiles
                    .iter()
                    .any(|p| p == "*" || s.profiles.contains(p))
        };
        let (enabled, disabled): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.model.services)
                .into_iter()
                .partition(|(n, s)| active(s) || named.contains(n));
        self.model.services = enabled;
        self.disabled = disabled;
        Ok(())
    }

    /// Keeps only `names` and what they depend on.
    fn select(&mut self, names: &[String]) -> Result<()> {
        let mut keep: Vec<String> = Vec::new();
        let mut todo: Vec<String> = names.to_vec();
        while let Some(n) = todo.pop() {
            if keep.contains(&n) {
                continue;
            }
            let s = self
                .model
                .services
                .get(&n)
                .ok_or_else(|| ComposeError::plain(format!("no such service: {n}")))?;
            todo.extend(
                s.depends_on
                    .iter()
                    .filter(|(d, _)| self.model.services.contains_key(*d))
                    .map(|(d, _)| d.clone()),
            );
            keep.push(n);
        }
        // The others stay known (as Compose's disabled services): their
        // containers are not orphans.
        let (kept, others): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.model.services)
                .into_iter()
                .partition(|(n, _)| keep.contains(n));
        self.model.services = kept;
        self.disabled.extend(others);
        Ok(())
    }

    /// Drops the networks, volumes, secrets and configs that no enabled
    /// service uses.
    fn prune_unused(&mut self) {
        let services = &self.model.services;
        let uses = |pred: &dyn Fn(&Service) -> bool| services.values().any(pred);
        self.model
            .networks
            .retain(|n, _| uses(&|s: &Service| s.networks.contains_key(n)));
        self.model.volumes.retain(|n, _| {
            uses(&|s: &Service| {
                s.volumes
                    .iter()
                    .any(|v| v.kind == "volume" && v.source == *n)
            })
        });
        self.model.secrets.retain(|n, _| {
            uses(&|s: &Service| {
                s.secrets.iter().any(|r| r.source == *n)
                    || s.build
                        .as_ref()
                        .is_some_and(|b| b.secrets.iter().any(|r| r.source == *n))
            })
        });
        self.model
            .configs
            .retain(|n, _| uses(&|s: &Service| s.configs.iter().any(|r| r.source == *n)));
    }

    /// compose-go's `checkConsistency`: every reference resolves.
    fn check_consistency(&self) -> Result<()> {
        for (name, s) in &self.model.services {
            if s.build.is_none() && s.image.is_empty() && s.provider.is_none() {
                return Err(ComposeError::plain(format!(
                    "service {name:?} has neither an image nor a build context specified: invalid compose project"
                )));
            }
            if let Some(b) = &s.build {
                if !b.dockerfile_inline.is_empty()
                    && !b.dockerfile.is_empty()
                    && b.dockerfile != "Dockerfile"
                {
                    return Err(ComposeError::plain(format!(
                        "service {name:?} declares mutually exclusive dockerfile and dockerfile_inline: invalid compose project"
                    )));
                }
            }
            if !s.network_mode.is_empty() && !s.networks.is_empty() {
                return Err(ComposeError::plain(format!(
                    "service {name} declares mutually exclusive `network_mode` and `networks`: invalid compose project"
                )));
            }
            for n in s.networks.keys() {
                if !self.model.networks.contains_key(n) {
                    return Err(ComposeError::plain(format!(
                        "service {name:?} refers to undefined network {n}: invalid compose project"
                    )));
                }
            }
            if let Some(h) = &s.healthcheck {
                if let Some(first) = h.test.0.first() {
                    if !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE") {
                        return Err(ComposeError::plain(format!(
                            "service {name:?}: healthcheck.test must start either by \"CMD\", \"CMD-SHELL\" or \"NONE\""
                        )));
                    }
                }
            }
            for (dep, cfg) in &s.depends_on {
                if self.model.services.contains_key(dep) {
                    continue;
                }
                if self.disabled.contains_key(dep) && !cfg.required {
                    continue;
                }
                let why = if self.disabled.contains_key(dep) {
                    " (its profile is not enabled)"
                } else {
                    ""
                };
                return Err(ComposeError::plain(format!(
                    "service {name:?} depends on undefined service {dep:?}{why}: invalid compose project"
                )));
            }
            if let Some(target) = s.network_mode.strip_prefix("service:") {
                if !self.model.services.contains_key(target) {
                    return Err(ComposeError::plain(format!(
                        "service {target:?} not found for network_mode 'service:{target}'"
                    )));
                }
            }
            for v in &s.volumes {
                if v.kind == "volume"
                    && !v.source.is_empty()
                    && !self.model.volumes.contains_key(&v.source)
                {
                    return Err(ComposeError::plain(format!(
                        "service {name:?} refers to undefined volume {}: invalid compose project",
                        v.source
                    )));
                }
            }
            for (kind, refs, defined) in [
                ("secret", &s.secrets, &self.model.secrets),
                ("config", &s.configs, &self.model.configs),
            ] {
                for r in refs {
                    if !defined.contains_key(&r.source) {
                        return Err(ComposeError::plain(format!(
                            "service {name:?} refers to undefined {kind} {}: invalid compose project",
                            r.source
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The enabled services, dependencies before their dependents (and
    /// by name where the order is free). A cycle is an error naming it.
    pub fn dependency_order(&self) -> Result<Vec<&Service>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        fn visit<'a>(
            p: &'a Project,
            name: &'a str,
            marks: &mut BTreeMap<&'a str, Mark>,
            stack: &mut Vec<&'a str>,
            out: &mut Vec<&'a Service>,
        ) -> Result<()> {
            match marks.get(name) {
                Some(Mark::Done) => return Ok(()),
                Some(Mark::Visiting) => {
                    let start = stack.iter().position(|s| *s == name).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[start..].to_vec();
                    cycle.push(name);
                    return Err(ComposeError::plain(format!(
                        "dependency cycle detected: {}",
                        cycle.join(" -> ")
                    )));
                }
                None => {}
            }
            let Some(s) = p.model.services.get(name) else {
                return Ok(());
            };
            marks.insert(name, Mark::Visiting);
            stack.push(name);
            for dep in s.depends_on.keys() {
                visit(p, dep, marks, stack, out)?;
            }
            stack.pop();
            marks.insert(name, Mark::Done);
            out.push(s);
            Ok(())
        }
        let mut marks = BTreeMap::new();
        let mut out = Vec::new();
        for name in self.model.services.keys() {
            visit(self, name, &mut marks, &mut Vec::new(), &mut out)?;
        }
        Ok(out)
    }

    /// Reads each service's `env_file`s into its `environment`, as
    /// containers get it: the files' values, then `environment` over
    /// them; a key without value takes the project environment's.
    pub fn resolve_env_files(&mut self) -> Result<()> {
        let project_env = self.environment.clone();
        for s in self.model.services.values_mut() {
            for (k, v) in s.environment.0.iter_mut() {
                if v.is_none() {
                    *v = project_env.get(k).cloned();
                }
            }
            let mut from_files: IndexMap<String, String> = IndexMap::new();
            let mut warnings = Vec::new();
            for f in &s.env_file {
                let path = std::path::Path::new(&f.path);
                if !path.exists() {
                    if f.required {
                        return Err(ComposeError::plain(format!(
                            "env file {} not found: service {:?} requires it (set `required: false` to make it optional)",
                            f.path, s.name
                        )));
                    }
                    continue;
                }
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ComposeError::plain(format!("reading {}: {e}", f.path)))?;
                let env = &s.environment.0;
                let lookup = |k: &str| {
                    project_env
                        .get(k)
                        .cloned()
                        .or_else(|| env.get(k).cloned().flatten())
                };
                dotenv::parse(&text, &mut from_files, &lookup, &mut warnings).map_err(|e| {
                    ComposeError::plain(format!(
                        "failed to read {}: line {}: {}",
                        f.path, e.line, e.message
                    ))
                })?;
            }
            self.warnings.extend(warnings);
            for (k, v) in from_files {
                s.environment.0.entry(k).or_insert(Some(v));
            }
            s.env_file.clear();
        }
        Ok(())
    }

    /// The service `name`, if enabled.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.model.services.get(name)
    }

    /// The model as `docker compose config` prints it in YAML.
    pub fn to_value(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.model).expect("the model serializes");
        output::inline_extensions(&mut v);
        v
    }

    /// The model as `docker compose config --format json` prints it:
    /// compose-go writes the top level from a Go map (keys sorted) and
    /// services with `command` and `entrypoint` even when null.
    pub fn to_json_value(&self) -> serde_json::Value {
        let mut v = super::types::with_json_rules(|| {
            serde_json::to_value(&self.model).expect("the model serializes")
        });
        output::inline_extensions(&mut v);
        if let serde_json::Value::Object(m) = &mut v {
            m.sort_keys();
        }
        v
    }

    /// The image a service runs: its `image`, else `PROJECT-SERVICE` for
    /// a service that is built.
    pub fn image_name(&self, service: &Service) -> String {
        if service.image.is_empty() {
            format!("{}-{}", self.name, service.name)
        } else {
            service.image.clone()
        }
    }

    /// How many containers the service wants: `scale`, else
    /// `deploy.replicas`, else 1.
    pub fn scale(service: &Service) -> u32 {
        service
            .scale
            .or_else(|| service.deploy.as_ref().and_then(|d| d.replicas))
            .unwrap_or(1)
    }

    /// The name of the service's container number `n` (from 1):
    /// `container_name` when set, else `PROJECT-SERVICE-N`.
    pub fn container_name(&self, service: &Service, n: u32) -> String {
        if !service.container_name.is_empty() {
            return service.container_name.clone();
        }
        format!("{}-{}-{n}", self.name, service.name)
    }

    /// The hash Docker Compose labels containers with
    /// (`com.docker.compose.config-hash`): SHA-256 of the service's JSON
    /// without what may change without recreating the container (build,
    /// pull policy, scale, replicas, dependencies, profiles).
    pub fn config_hash(service: &Service) -> String {
        let mut s = service.clone();
        s.build = None;
        s.pull_policy.clear();
        s.scale = None;
        if let Some(d) = s.deploy.as_mut() {
            d.replicas = None;
        }
        s.depends_on.clear();
        s.profiles.clear();
        let mut v = super::types::with_json_rules(|| {
            serde_json::to_value(&s).expect("a service serializes")
        });
        output::inline_extensions(&mut v);
        let json = serde_json::to_string(&v).expect("JSON serializes");
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}
