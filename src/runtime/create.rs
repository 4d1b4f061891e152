//! `create`: the container record, made in the same locked section that
//! resolves the image, so that a concurrent `rmi` sees the container.

use super::spec::{self, ProcessOptions};
use crate::image::config::ImageConfig;
use crate::store::containers::{ContainerRecord, HostConfig, MountPoint};
use crate::store::images::NoSuchImage;
use crate::store::{Store, StoreLock};
use anyhow::{Context, Result};

/// Everything `create` needs besides the mounts.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    /// The image as the user named it (kept for `ps` and `inspect`).
    pub image: String,
    /// The image's id when the caller already resolved the name (a short
    /// name found under an unqualified-search registry).
    pub image_id: Option<String>,
    pub process: ProcessOptions,
    pub network: String,
    pub read_only: bool,
    pub auto_remove: bool,
    pub restart: crate::runtime::policy::RestartPolicy,
    /// `--init`: berth's minimal init as pid 1.
    pub init: bool,
}

/// Creates the container. `mounts` turns the user's mount flags into the
/// container's mounts (creating volumes) under the same lock; it gets the
/// image's VOLUME paths.
pub fn create(
    store: &Store,
    opts: &CreateOptions,
    mounts: impl FnOnce(&[String], &StoreLock) -> Result<Vec<MountPoint>>,
) -> Result<ContainerRecord> {
    let chosen = match &opts.name {
        Some(n) => Some(spec::validate_name(n)?),
        None => None,
    };
    let network = spec::check_network(&opts.network)?;
    let lock = store.lock()?;
    let name = match chosen {
        // Before `mounts` makes volumes and bind directories: a conflict must leave nothing behind.
        Some(name) => {
            store.ensure_name_free(&name)?;
            name
        }
        // Under the lock, so the free name we draw stays ours until the
        // record is written.
        None => store.free_generated_name(),
    };
    let images = store.images()?;
    let image = match images.resolve(opts.image_id.as_deref().unwrap_or(&opts.image)) {
        Ok(i) => i,
        Err(e) => {
            if e.is::<NoSuchImage>() {
                eprintln!("Unable to find image '{}' locally", with_tag(&opts.image));
            }
            return Err(e);
        }
    };
    let config = ImageConfig::parse(&store.get_blob(&image.id)?)
        .with_context(|| format!("reading the configuration of image {}", opts.image))?;
    let id = crate::util::ids::random_id();
    let mut process =
        spec::build_process(&config.config, &opts.process, &id, &super::env::host_lookup)?;
    process.init = opts.init;
    let image_volumes: Vec<String> = config
        .config
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    let mounts = mounts(&image_volumes, &lock)?;
    let record = ContainerRecord {
        id,
        name,
        created: crate::util::humanize::now_rfc3339(),
        image: opts.image.clone(),
        image_id: image.id.clone(),
        layers: image.layers.clone(),
        config: process,
        host: HostConfig {
            mounts,
            network_mode: network,
            read_only: opts.read_only,
            auto_remove: opts.auto_remove,
            restart: opts.restart,
        },
    };
    if let Err(e) = store.create_container(&record, &lock) {
        // Anonymous volumes made for this container would be orphans.
        for m in record.host.mounts.iter().filter(|m| m.anonymous) {
            if let Some(v) = &m.volume {
                let _ = store.remove_volume(v, &lock);
            }
        }
        return Err(e);
    }
    Ok(record)
}

/// `busybox` → `busybox:latest`, as Docker names a missing image.
fn with_tag(spec: &str) -> String {
    match crate::image::reference::Reference::parse_tagged(spec) {
        Ok(r) => r.familiar(),
        Err(_) => spec.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_image_is_named_with_its_tag() {
        assert_eq!(with_tag("busybox"), "busybox:latest");
        assert_eq!(with_tag("x/y:1"), "x/y:1");
    }

    #[test]
    fn a_missing_image_is_no_such_image() {
        let (_d, store) = crate::store::test_store();
        let e = create(
            &store,
            &CreateOptions {
                image: "nothere".into(),
                network: "host".into(),
                ..Default::default()
            },
            |_, _| Ok(vec![]),
        )
        .unwrap_err();
        assert!(e.is::<NoSuchImage>());
        assert_eq!(e.to_string(), "No such image: nothere");
    }
}
