//! Manifests and indexes, Docker's and OCI's, and choosing the platform.
//! Manifests are hashed as raw bytes and never re-serialized: their digest
//! is what names them.

use anyhow::{bail, Result};
use serde::Deserialize;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1";

/// The `Accept` header for manifest requests: everything we can read.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest accepted, as Docker (4 MiB).
pub(crate) const MAX_MANIFEST: u64 = 4 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) platform: Option<Platform>,
    #[serde(default)]
    pub(crate) annotations: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub(crate) struct Platform {
    pub(crate) architecture: String,
    pub(crate) os: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    pub(crate) config: Descriptor,
    pub(crate) layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    pub(crate) manifests: Vec<Descriptor>,
}

/// A manifest document, by kind.
pub(crate) enum Document {
    Manifest(Manifest),
    Index(Index),
}

/// Parses a manifest or index, using the response's content type and the
/// document's own `mediaType` (some registries send a generic type).
pub(crate) fn parse(bytes: &[u8], content_type: &str) -> Result<Document> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|e| anyhow::anyhow!("invalid manifest: {e}"))?;
    let kind = probe
        .media_type
        .clone()
        .unwrap_or_else(|| content_type.to_string());
    if probe.schema_version == Some(1) || kind.starts_with(DOCKER_SCHEMA1) {
        bail!("this image uses Docker's manifest schema 1, which berth (like current Docker) does not support; push it again with a recent tool to convert it");
    }
    if kind == OCI_INDEX
        || kind == DOCKER_LIST
        || (probe.manifests.is_some() && kind != OCI_MANIFEST && kind != DOCKER_MANIFEST)
    {
        Ok(Document::Index(serde_json::from_slice(bytes).map_err(
            |e| anyhow::anyhow!("invalid image index: {e}"),
        )?))
    } else {
        Ok(Document::Manifest(serde_json::from_slice(bytes).map_err(
            |e| anyhow::anyhow!("invalid image manifest: {e}"),
        )?))
    }
}

impl Platform {
    /// The machine we run on.
    pub(crate) fn host() -> Platform {
        let arch = crate::image::config::host_architecture().to_string();
        let variant = match arch.as_str() {
            "arm64" => Some("v8".to_string()),
            "arm" => Some("v7".to_string()),
            _ => None,
        };
        Platform {
            architecture: arch,
            os: "linux".into(),
            variant,
        }
    }

    /// `os/arch[/variant]` as `--platform` takes it.
    pub(crate) fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => bail!("invalid platform {s:?}: expected os/arch[/variant], e.g. linux/amd64"),
        }
    }

    /// A `--platform` of `run`, `create` or `pull`, which must be this
    /// machine's: berth runs no emulator, and keeps one image per name.
    /// `linux` alone means this machine's architecture.
    pub(crate) fn native_only(spec: &str) -> Result<Platform> {
        let host = Platform::host();
        let wanted = if spec.eq_ignore_ascii_case("linux") {
            host.clone()
        } else {
            let mut p = Platform::parse(&spec.to_ascii_lowercase())?;
            if p.architecture == "x86_64" {
                p.architecture = "amd64".into();
            } else if p.architecture == "aarch64" {
                p.architecture = "arm64".into();
            }
            p
        };
        let variant_ok = wanted.variant.is_none()
            || wanted.normalized_variant() == host.normalized_variant()
            || (wanted.architecture == "amd64"
                && matches!(wanted.variant.as_deref(), Some("v1" | "v2" | "v3" | "v4")));
        if wanted.os != host.os || wanted.architecture != host.architecture || !variant_ok {
            bail!(
                "platform {spec:?} is not supported: berth runs images of this machine's \
                 platform ({host}) only; another architecture would need an emulator \
                 (binfmt_misc with qemu), which berth does not set up"
            );
        }
        Ok(wanted)
    }

    /// Whether an image's config (`os`, `architecture`, `variant`) fits
    /// this wanted platform.
    pub(crate) fn fits_image(&self, os: &str, architecture: &str) -> bool {
        self.os == os && self.architecture == architecture
    }

    fn normalized_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            ("arm", None) => Some("v7"),
            (_, v) => v,
        }
    }

    /// Whether an index entry's platform satisfies this wanted one.
    pub(crate) fn matches(&self, offered: &Platform) -> bool {
        self.os == offered.os
            && self.architecture == offered.architecture
            && (self.variant.is_none() || self.normalized_variant() == offered.normalized_variant())
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The index entry for `wanted`, skipping attestation manifests.
pub(crate) fn select<'a>(index: &'a Index, wanted: &Platform) -> Result<&'a Descriptor> {
    let candidates = index.manifests.iter().filter(|d| {
        let attestation = d
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("vnd.docker.reference.type"));
        !attestation
    });
    let mut offered = Vec::new();
    for d in candidates {
        match &d.platform {
            Some(p) if wanted.matches(p) => return Ok(d),
            Some(p) => offered.push(p.to_string()),
            None => {}
        }
    }
    bail!(
        "no matching manifest for {wanted} in the manifest list entries (offered: {}); choose one with --platform",
        if offered.is_empty() { "none".to_string() } else { offered.join(", ") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_native_platform_is_accepted() {
        let host = Platform::host();
        assert_eq!(Platform::native_only("linux").unwrap(), host);
        assert_eq!(
            Platform::native_only(&format!("linux/{}", host.architecture))
                .unwrap()
                .architecture,
            host.architecture
        );
        let foreign = if host.architecture == "amd64" {
            "linux/arm64"
        } else {
            "linux/amd64"
        };
        let e = Platform::native_only(foreign).unwrap_err().to_string();
        assert!(
            e.contains("berth runs images of this machine's platform"),
            "{e}"
        );
        assert!(Platform::native_only("windows").is_err());
        assert!(Platform::native_only(&format!("windows/{}", host.architecture)).is_err());
    }

    #[test]
    fn picks_the_host_platform_and_skips_attestations() {
        let idx: Index = serde_json::from_str(&format!(
            r#"{{"manifests":[
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:a","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:att","size":1,"platform":{{"architecture":"unknown","os":"unknown"}},"annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}},
              {{"mediaType":"{OCI_MANIFEST}","digest":"sha256:b","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}}
            ]}}"#
        ))
        .unwrap();
        let amd = Platform::parse("linux/amd64").unwrap();
        assert_eq!(select(&idx, &amd).unwrap().digest, "sha256:b");
        let arm = Platform::parse("linux/arm64").unwrap();
        assert_eq!(select(&idx, &arm).unwrap().digest, "sha256:a");
        let err = select(&idx, &Platform::parse("linux/s390x").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("linux/arm64/v8") && err.contains("--platform"));
    }

    #[test]
    fn schema1_is_refused_and_kinds_are_told_apart() {
        assert!(parse(br#"{"schemaVersion":1,"name":"x"}"#, "").is_err());
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"digest":"sha256:c","size":1}},"layers":[]}}"#
        );
        assert!(matches!(
            parse(m.as_bytes(), "").unwrap(),
            Document::Manifest(_)
        ));
        let i = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#);
        assert!(matches!(
            parse(i.as_bytes(), "").unwrap(),
            Document::Index(_)
        ));
    }
}
