//! The labels Docker Compose puts on what it makes, by which every later
//! command finds a project's containers, volumes and networks again (there
//! is no other record of a project): `com.docker.compose.project`,
//! `.service`, `.container-number`, `.config-hash`, ... as Compose v2
//! writes them, so that `berth ps --filter label=...` and tools written
//! for Docker see the same thing.

use super::project::Project;
use super::types::Service;
use indexmap::IndexMap;

pub(crate) const PROJECT: &str = "com.docker.compose.project";
pub(crate) const SERVICE: &str = "com.docker.compose.service";
pub(crate) const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub(crate) const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub(crate) const VOLUME: &str = "com.docker.compose.volume";
pub(crate) const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub(crate) const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub(crate) const ENVIRONMENT_FILE: &str = "com.docker.compose.project.environment_file";
pub(crate) const ONEOFF: &str = "com.docker.compose.oneoff";
pub(crate) const SLUG: &str = "com.docker.compose.slug";
pub(crate) const IMAGE: &str = "com.docker.compose.image";
pub(crate) const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub(crate) const VERSION: &str = "com.docker.compose.version";
pub(crate) const REPLACE: &str = "com.docker.compose.replace";

/// The version Compose labels carry: berth's own.
pub(crate) fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// What a container is in its project: a numbered replica of a service,
/// or a one-off (`compose run`) with its slug.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    Replica(u32),
    OneOff { slug: String },
}

/// The labels of a service's container: the service's own `labels`, then
/// Compose's (which win, as in Compose, where `CustomLabels` are merged
/// last). `image_id` is the id of the image the container runs.
pub(crate) fn for_container(
    project: &Project,
    service: &Service,
    role: &Role,
    image_id: &str,
    env_files: &[String],
) -> IndexMap<String, String> {
    let mut l: IndexMap<String, String> = service
        .labels
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    l.insert(PROJECT.into(), project.name.clone());
    l.insert(SERVICE.into(), service.name.clone());
    l.insert(VERSION.into(), version().into());
    l.insert(
        WORKING_DIR.into(),
        project.working_dir.display().to_string(),
    );
    l.insert(
        CONFIG_FILES.into(),
        project
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    if !env_files.is_empty() {
        l.insert(ENVIRONMENT_FILE.into(), env_files.join(","));
    }
    l.insert(IMAGE.into(), image_id.into());
    l.insert(CONFIG_HASH.into(), Project::config_hash(service));
    match role {
        Role::Replica(n) => {
            l.insert(CONTAINER_NUMBER.into(), n.to_string());
            l.insert(ONEOFF.into(), "False".into());
        }
        Role::OneOff { slug } => {
            l.insert(SLUG.into(), slug.clone());
            l.insert(ONEOFF.into(), "True".into());
        }
    }
    l.insert(DEPENDS_ON.into(), depends_on(service));
    l
}

/// `com.docker.compose.depends_on`: `service:condition:restart`, comma
/// separated (Compose writes them in Go's map order; berth by name).
pub(crate) fn depends_on(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(name, d)| format!("{name}:{}:{}", d.condition, d.restart))
        .collect::<Vec<_>>()
        .join(",")
}

/// The labels of a project's named volume.
pub(crate) fn for_volume(project: &str, key: &str) -> IndexMap<String, String> {
    IndexMap::from([
        (PROJECT.to_string(), project.to_string()),
        (VERSION.to_string(), version().to_string()),
        (VOLUME.to_string(), key.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::types::Dependency;

    #[test]
    fn depends_on_is_service_condition_restart() {
        let mut s = Service::default();
        s.depends_on.insert(
            "db".into(),
            Dependency {
                condition: "service_healthy".into(),
                restart: true,
                extensions: Default::default(),
                required: true,
            },
        );
        s.depends_on.insert(
            "cache".into(),
            Dependency {
                condition: "service_started".into(),
                restart: false,
                extensions: Default::default(),
                required: true,
            },
        );
        assert_eq!(
            depends_on(&s),
            "cache:service_started:false,db:service_healthy:true"
        );
    }
}
