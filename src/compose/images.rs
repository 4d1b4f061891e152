//! The images a project runs: found in the store, pulled by each
//! service's `pull_policy` (or `--pull`), built from `build:` sections,
//! pushed; and the ids that go into the `com.docker.compose.image` label,
//! by which a second `up` sees that an image changed.

use super::progress::{self, Event, Progress, Status};
use super::project::Project;
use super::types::Service;
use crate::image::registry::client::Transport;
use crate::image::registry::pull::{self, PullOptions};
use crate::image::registry::push::{self, PushOptions};
use crate::image::registry::settings::Settings;
use crate::store::Store;
use anyhow::{anyhow, bail, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A service's `pull_policy` (or `--pull`), as Compose reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PullPolicy {
    Always,
    Never,
    Missing,
    Build,
    /// `daily`, `weekly`, `every_<duration>`: berth keeps no pull time,
    /// so these pull when the image is missing.
    Refresh,
}

impl PullPolicy {
    pub(crate) fn parse(s: &str) -> Result<PullPolicy> {
        Ok(match s {
            "" | "missing" | "if_not_present" => PullPolicy::Missing,
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            "build" => PullPolicy::Build,
            "daily" | "weekly" => PullPolicy::Refresh,
            s if s.starts_with("every_") => PullPolicy::Refresh,
            _ => bail!("invalid pull policy {s:?}: use always, never, missing, build, daily, weekly or every_<duration>"),
        })
    }

    pub(crate) fn of(service: &Service) -> Result<PullPolicy> {
        PullPolicy::parse(&service.pull_policy)
            .map_err(|e| anyhow!("service {:?}: pull_policy: {e:#}", service.name))
    }
}

/// How `up`, `create` and `run` get their images.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnsureOptions {
    /// `--no-build`: never build, even a missing image.
    pub(crate) no_build: bool,
    pub(crate) quiet_pull: bool,
}

/// `--pull` and `--build` as Compose applies them: by changing each
/// service's pull policy (which is not part of the config hash).
pub(crate) fn apply_pull_flag(
    project: &mut Project,
    pull: Option<&str>,
    build: bool,
) -> Result<()> {
    if let Some(p) = pull.filter(|p| *p != "policy") {
        if !matches!(p, "always" | "missing" | "never" | "build") {
            bail!("invalid --pull option {p:?}");
        }
        for s in project.model.services.values_mut() {
            s.pull_policy = p.to_string();
        }
    }
    if build {
        for s in project.model.services.values_mut() {
            if s.build.is_some() {
                s.pull_policy = "build".into();
            }
        }
    }
    Ok(())
}

/// The id of the local image `name` means, if the store has it.
pub(crate) fn local_id(store: &Store, settings: &Settings, name: &str) -> Result<Option<String>> {
    Ok(pull::resolve_local(store, settings, name)?.map(|i| i.id))
}

/// Makes sure every service's image is there (pulling, then building,
/// as Compose); returns the image id of each service.
pub(crate) fn ensure(
    store: &Store,
    project: &Project,
    opts: &EnsureOptions,
    events: &dyn Progress,
) -> Result<BTreeMap<String, String>> {
    let settings = Settings::load()?;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut local: BTreeMap<String, Option<String>> = BTreeMap::new();
    for s in project.model.services.values() {
        let image = project.image_name(s);
        if !local.contains_key(&image) {
            local.insert(image.clone(), local_id(store, &settings, &image)?);
        }
    }
    // Pull what the policies ask for.
    let mut pulled: BTreeMap<String, String> = BTreeMap::new();
    for s in project.model.services.values() {
        if s.image.is_empty() {
            continue;
        }
        let policy = PullPolicy::of(s)?;
        let present = local.get(&s.image).cloned().flatten();
        let must = match policy {
            PullPolicy::Always => true,
            PullPolicy::Never | PullPolicy::Build => false,
            PullPolicy::Missing | PullPolicy::Refresh => present.is_none(),
        };
        if !must || pulled.contains_key(&s.image) {
            continue;
        }
        match pull_service(store, &settings, s, opts.quiet_pull, events) {
            Ok(id) => {
                pulled.insert(s.image.clone(), id.clone());
                local.insert(s.image.clone(), Some(id));
            }
            // The image can be built: a failed pull is not the end.
            Err(_) if s.build.is_some() => {}
            Err(e) => return Err(e),
        }
    }
    // Build what is missing, or what `--build`/`pull_policy: build` asks for.
    for s in project.model.services.values() {
        let image = project.image_name(s);
        let present = local.get(&image).cloned().flatten();
        let policy = PullPolicy::of(s)?;
        let id = match (&s.build, present) {
            (Some(_), present) if !opts.no_build && (policy == PullPolicy::Build || present.is_none()) => {
                let id = build_service(store, project, s, &BuildFlags::default(), events)?;
                local.insert(image.clone(), Some(id.clone()));
                id
            }
            (_, Some(id)) => id,
            (Some(_), None) => bail!(
                "service {:?} has no image {image} and --no-build forbids building it; run `berth compose build {}` first",
                s.name,
                s.name
            ),
            (None, None) => match policy {
                PullPolicy::Never => bail!(
                    "image {image} of service {:?} is not in the store and its pull policy is never; pull it first with `berth pull {image}`",
                    s.name
                ),
                _ => bail!("No such image: {image}"),
            },
        };
        ids.insert(s.name.clone(), id);
    }
    Ok(ids)
}

/// Pulls a service's image with Compose's events (`web Pulling`,
/// `web Pulled`); the id.
pub(crate) fn pull_service(
    store: &Store,
    settings: &Settings,
    s: &Service,
    quiet: bool,
    events: &dyn Progress,
) -> Result<String> {
    events.event(Event::text(&s.name, Status::Working, "Pulling"));
    let result = pull_image(store, settings, &s.image, quiet);
    match &result {
        Ok(_) => events.event(Event::text(&s.name, Status::Done, "Pulled")),
        Err(e) => {
            let status = if s.build.is_some() {
                Status::Warning
            } else {
                Status::Error
            };
            let mut ev = Event::text(
                &s.name,
                status,
                if s.build.is_some() {
                    "Warning"
                } else {
                    "Error"
                },
            );
            ev.status_text = format!("{e:#}");
            events.event(ev);
        }
    }
    result
}

/// Pulls `name` from the first registry that has it.
fn pull_image(store: &Store, settings: &Settings, name: &str, _quiet: bool) -> Result<String> {
    let candidates = settings
        .candidates(name)
        .map_err(|e| anyhow!("invalid reference format: {name}: {e:#}"))?;
    crate::userns::enter()?;
    let opts = PullOptions {
        platform: None,
        transport: Transport::default(),
        // Compose shows its own events, not Docker's layer lines.
        quiet: true,
    };
    let mut errors = Vec::new();
    for reference in &candidates {
        match pull::pull(store, reference, &opts) {
            Ok(p) => return Ok(p.id),
            Err(e) => errors.push(e.context(format!("pulling {}", reference.familiar()))),
        }
    }
    Err(pull::join_errors(errors))
}

/// `compose build`'s flags over the services' `build:` sections.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildFlags {
    /// `--pull`: pull the base images even when the store has them.
    pub(crate) pull: bool,
    pub(crate) no_cache: bool,
    /// `--build-arg K=V` (or `K`, from the environment), over `args:`.
    pub(crate) build_args: Vec<String>,
}

/// Builds a service's image (`PROJECT-SERVICE` unless `image:` names it)
/// with berth's builder; the image id.
pub(crate) fn build_service(
    store: &Store,
    project: &Project,
    s: &Service,
    flags: &BuildFlags,
    events: &dyn Progress,
) -> Result<String> {
    let image = project.image_name(s);
    let id = format!("Image {image}");
    let req = match build_request(project, s, &image, flags) {
        Ok(r) => r,
        Err(e) => {
            events.event(progress::error_message(&id, &format!("{e:#}")));
            return Err(e);
        }
    };
    if let Some(b) = &s.build {
        if !b.cache_from.is_empty() || !b.cache_to.is_empty() {
            events.event(Event::new(
                &id,
                Status::Warning,
                "cache_from/cache_to ignored: berth's build cache is the local store's",
            ));
        }
    }
    events.event(progress::building(&id));
    match crate::build::builder::build(store, req, &crate::build::progress::Silent) {
        Ok(outcome) => {
            events.event(progress::built(&id));
            Ok(outcome.image_id)
        }
        Err(e) => {
            let msg = match e.downcast_ref::<crate::build::progress::BuildError>() {
                Some(be) => {
                    let mut m = String::new();
                    if let Some(v) = &be.vertex {
                        m.push_str(&format!("{v}: "));
                    }
                    m.push_str(&be.message);
                    for l in &be.logs {
                        m.push_str(&format!("\n{l}"));
                    }
                    m
                }
                None => format!("{e:#}"),
            };
            events.event(progress::error_message(&id, &be_first_line(&msg)));
            bail!(
                "failed to build the image {image} of service {:?}: {msg}",
                s.name
            )
        }
    }
}

fn be_first_line(msg: &str) -> String {
    msg.lines().next().unwrap_or("").to_string()
}

/// The service's `build:` section as a request to the builder; the
/// fields berth's builder cannot honour are refused, naming them.
fn build_request(
    project: &Project,
    s: &Service,
    image: &str,
    flags: &BuildFlags,
) -> Result<crate::build::builder::BuildRequest> {
    use crate::build::builder::{BuildNetwork, BuildRequest};
    use crate::build::context::DockerfileSource;
    let b = s
        .build
        .as_ref()
        .ok_or_else(|| anyhow!("service {:?} has no build section", s.name))?;
    let refuse = |field: &str, why: &str| {
        anyhow!(
            "service {:?}: build.{field} is not supported by berth: {why}; remove it from the build section",
            s.name
        )
    };
    let checks: &[(&str, bool, &str)] = &[
        (
            "ssh",
            !b.ssh.is_empty(),
            "the builder forwards no SSH agent",
        ),
        (
            "additional_contexts",
            !b.additional_contexts.is_empty(),
            "the builder takes one context",
        ),
        (
            "secrets",
            !b.secrets.is_empty(),
            "use `berth build --secret` for builds that need secrets",
        ),
        (
            "entitlements",
            !b.entitlements.is_empty(),
            "the builder grants no entitlements",
        ),
        ("privileged", b.privileged, "RUN steps never run privileged"),
        (
            "ulimits",
            !b.ulimits.is_empty(),
            "RUN steps take no ulimits",
        ),
        (
            "shm_size",
            b.shm_size.is_some(),
            "RUN steps take no shared-memory size",
        ),
        (
            "no_cache_filter",
            !b.no_cache_filter.is_empty(),
            "use no_cache for the whole build",
        ),
        (
            "isolation",
            !matches!(b.isolation.as_str(), "" | "default"),
            "isolation modes are Windows'",
        ),
    ];
    for (field, set, why) in checks {
        if *set {
            return Err(refuse(field, why));
        }
    }
    for p in &b.platforms.0 {
        let asked = crate::build::eval::Platform::parse(p)
            .map_err(|e| anyhow!("service {:?}: build.platforms: {e}", s.name))?;
        if asked != crate::build::eval::Platform::native() {
            return Err(refuse(
                "platforms",
                &format!("berth builds for this machine's platform only, not {p}"),
            ));
        }
    }
    let context = PathBuf::from(if b.context.is_empty() {
        "."
    } else {
        b.context.as_str()
    });
    let context = if context.is_absolute() {
        context
    } else {
        project.working_dir.join(context)
    };
    if !context.is_dir() {
        bail!(
            "service {:?}: build context {} is not a directory (URLs and git contexts are not supported)",
            s.name,
            context.display()
        );
    }
    let dockerfile = if !b.dockerfile_inline.is_empty() {
        DockerfileSource::Contents(b.dockerfile_inline.clone().into_bytes())
    } else if b.dockerfile.is_empty() {
        DockerfileSource::Default
    } else {
        let p = PathBuf::from(&b.dockerfile);
        DockerfileSource::Path(if p.is_absolute() { p } else { context.join(p) })
    };
    let mut req = BuildRequest::for_directory(context);
    req.dockerfile = dockerfile;
    req.tags = std::iter::once(image.to_string())
        .chain(b.tags.0.iter().cloned())
        .collect();
    for (k, v) in &b.args.0 {
        match v {
            Some(v) => {
                req.build_args.insert(k.clone(), v.clone());
            }
            // A bare name takes the value from the environment.
            None => {
                if let Some(v) = project.environment.get(k) {
                    req.build_args.insert(k.clone(), v.clone());
                }
            }
        }
    }
    for a in &flags.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                req.build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Some(v) = project.environment.get(a) {
                    req.build_args.insert(a.clone(), v.clone());
                }
            }
        }
    }
    req.target = (!b.target.is_empty()).then(|| b.target.clone());
    req.no_cache = b.no_cache || flags.no_cache;
    req.pull = b.pull || flags.pull;
    req.labels = b
        .labels
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    req.network = match b.network.as_str() {
        "" | "default" => BuildNetwork::Default,
        "host" => BuildNetwork::Host,
        "none" => BuildNetwork::None,
        other => {
            return Err(refuse(
                "network",
                &format!("{other:?} is not a network RUN steps can use (default, host or none)"),
            ))
        }
    };
    for (name, ips) in &b.extra_hosts.0 {
        for ip in ips {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(refuse(
                    "extra_hosts",
                    &format!("{name}: {ip:?} is not an IP address"),
                ));
            }
            req.add_hosts.push((name.clone(), ip.clone()));
        }
    }
    Ok(req)
}

/// `compose push`: the image of each service that names one.
pub(crate) fn push_service(
    store: &Store,
    s: &Service,
    quiet: bool,
    events: &dyn Progress,
) -> Result<()> {
    let r = crate::model::reference::Reference::parse_tagged(&s.image)
        .map_err(|e| anyhow!("service {:?}: invalid image {:?}: {e:#}", s.name, s.image))?;
    if store.images()?.resolve(&r.to_string()).is_err() {
        bail!(
            "An image does not exist locally with the tag: {}",
            r.familiar_name()
        );
    }
    crate::userns::enter()?;
    let id = format!("Image {}", s.image);
    events.event(Event::text(&id, Status::Working, "Pushing"));
    let opts = PushOptions {
        transport: Transport::default(),
        quiet: true,
    };
    let _ = quiet;
    match push::push(store, &r, &opts) {
        Ok(_) => {
            events.event(Event::text(&id, Status::Done, "Pushed"));
            Ok(())
        }
        Err(e) => {
            events.event(progress::error_message(&id, &format!("{e:#}")));
            Err(e.context(format!("pushing {}", r.familiar())))
        }
    }
}
