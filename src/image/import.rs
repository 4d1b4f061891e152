//! `import`: a root filesystem tarball becomes a one-layer image.

use crate::image::changes::apply_changes;
use crate::image::compression::decompress;
use crate::image::config::{host_architecture, History, ImageConfig, RootFs};
use crate::image::layer::{unpack_layer, Notices};
use crate::model::event::Event;
use crate::model::reference::{familiar, Reference};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Read;

/// What `import` was asked for besides the tarball.
#[derive(Debug, Default, Clone)]
pub(crate) struct ImportOptions {
    /// Dockerfile instructions for the image's run configuration.
    pub(crate) changes: Vec<String>,
    /// History comment; "Imported from SOURCE" when absent, as Docker.
    pub(crate) message: Option<String>,
    /// `os/arch[/variant]`; the host's when absent.
    pub(crate) platform: Option<String>,
    /// Where the tarball came from (a file name or `-`), for the history.
    pub(crate) source: String,
    /// Name to give the image.
    pub(crate) reference: Option<String>,
}

/// Imports a (plain, gzip or zstd) tarball; returns the new image's id.
pub(crate) fn import(
    store: &Store,
    tarball: impl Read,
    opts: &ImportOptions,
    notices: &mut Notices,
) -> Result<String> {
    // Everything that can be refused is checked before the long unpack.
    let name = opts
        .reference
        .as_deref()
        .map(|r| {
            Reference::parse_tagged(r)
                .map(|r| r.to_string())
                .map_err(|e| anyhow::anyhow!("invalid image name {r:?}: {e}"))
        })
        .transpose()?;
    let (os, arch, variant) = parse_platform(opts.platform.as_deref())?;
    let mut run_config = Default::default();
    apply_changes(&mut run_config, &opts.changes)?;

    let layer = unpack_layer(
        store,
        decompress(tarball).context("reading the tarball")?,
        notices,
    )
    .context("unpacking the tarball")?;
    let created = crate::util::humanize::now_rfc3339();
    let comment = opts
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {}", opts.source));
    let mut config = ImageConfig {
        created: Some(created.clone()),
        architecture: arch,
        os,
        variant,
        config: run_config,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.found.diff_id.clone()],
        },
        history: vec![History {
            created: Some(created.clone()),
            comment: Some(comment.clone()),
            ..Default::default()
        }],
        ..Default::default()
    };
    config.extra.insert("comment".into(), comment.into());
    let config_bytes =
        serde_json::to_vec(&config).context("serializing the image configuration")?;

    let id =
        crate::image::layer::record_image(store, layer, &[], &config_bytes, name.clone(), created)?;
    if let Some(n) = &name {
        store.record_event(&Event::image(&id, &familiar(n), "tag"));
    }
    store.record_event(&Event::image(&id, &id, "import"));
    Ok(id)
}

fn parse_platform(p: Option<&str>) -> Result<(String, String, Option<String>)> {
    let Some(p) = p else {
        return Ok(("linux".into(), host_architecture().into(), None));
    };
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] if !os.is_empty() && !arch.is_empty() => {
            Ok((os.to_string(), arch.to_string(), None))
        }
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
            Ok((os.to_string(), arch.to_string(), Some(variant.to_string())))
        }
        _ => bail!("invalid --platform {p:?}: expected os/arch[/variant], such as linux/amd64"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    #[test]
    fn imports_a_gzip_tarball_with_changes() {
        let (_d, store) = test_store();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o755);
        b.append_data(&mut h, "bin/hello", &b"hi"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let opts = ImportOptions {
            changes: vec!["CMD /bin/hello".into(), "ENV A=b".into()],
            message: Some("my message".into()),
            source: "-".into(),
            reference: Some("myimg:v1".into()),
            ..Default::default()
        };
        let id = import(
            &store,
            &gz.finish().unwrap()[..],
            &opts,
            &mut Notices::default(),
        )
        .unwrap();
        let index = store.images().unwrap();
        let img = index.resolve("myimg:v1").unwrap();
        assert_eq!(img.id, id);
        assert_eq!(img.layers, [crate::util::digest::sha256_digest(&tar)]);
        let config = ImageConfig::parse(&store.get_blob(&id).unwrap()).unwrap();
        assert_eq!(config.config.cmd.unwrap(), ["/bin/sh", "-c", "/bin/hello"]);
        assert_eq!(config.history[0].comment.as_deref(), Some("my message"));
        assert_eq!(config.architecture, host_architecture());
        let diff = store.layer_diff(&img.layers[0]).unwrap();
        assert_eq!(std::fs::read(diff.join("bin/hello")).unwrap(), b"hi");
    }

    #[test]
    fn bad_changes_fail_before_unpacking() {
        let (_d, store) = test_store();
        let opts = ImportOptions {
            changes: vec!["RUN rm -rf /".into()],
            ..Default::default()
        };
        assert!(import(&store, &b"not read"[..], &opts, &mut Notices::default()).is_err());
        assert_eq!(
            std::fs::read_dir(store.root().join("layers"))
                .unwrap()
                .count(),
            0
        );
        assert!(parse_platform(Some("linux")).is_err());
        assert_eq!(
            parse_platform(Some("linux/arm64/v8")).unwrap(),
            ("linux".into(), "arm64".into(), Some("v8".into()))
        );
    }
}
