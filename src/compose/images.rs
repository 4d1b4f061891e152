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
pub(crate) fn apply_pull_flag(project: &mut Project, pull: Option<&str>, build: bool) -> Result<()> {
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
                let id = build_service(store, project, s, events)?;
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
                if s.build.is_some() { "Warning" } else { "Error" },
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

/// Builds a service's image (`PROJECT-SERVICE` unless `image:` names it).
pub(crate) fn build_service(
    store: &Store,
    project: &Project,
    s: &Service,
    events: &dyn Progress,
) -> Result<String> {
    let _ = store;
    let id = format!("Image {}", project.image_name(s));
    events.event(progress::error_message(
        &id,
        "berth build is not in this build of berth",
    ));
    bail!(
        "service {:?} needs its image {} built from {}, and this build of berth cannot build images yet",
        s.name,
        project.image_name(s),
        s.build.as_ref().map(|b| b.context.as_str()).unwrap_or(".")
    )
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
