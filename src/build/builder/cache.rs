//! Steps and their cache: a step's key is the digest of the parent
//! filesystem state's key and a canonical description of what the step
//! does (after substitution, with the build arguments it reads and, for
//! COPY/ADD, the key of the content it copies). A record under that key
//! names the layer the step made and when; a hit reuses both, so an
//! identical rebuild gives an identical image. A new result's layer and
//! record are committed in one locked section.

use super::stage::{located, StageCx, StageState, HISTORY_COMMENT};
use super::{Mode, NeedsExecution};
use crate::build::dockerfile::Instruction;
use crate::build::progress::{BuildError, VertexId};
use crate::image::config::History;
use crate::image::layer::UnpackedLayer;
use crate::store::build_cache::CacheRecord;
use crate::util::digest::Hasher;
use anyhow::Result;

/// `sha256` hex of a parent key and a description.
pub(crate) fn key(parent: &str, what: &serde_json::Value) -> String {
    let mut h = Hasher::new();
    h.update(b"berth build cache v1\0");
    h.update(parent.as_bytes());
    h.update(b"\0");
    // serde_json keeps the order the description was written in
    // (preserve_order), so the same step always serializes alike.
    h.update(what.to_string().as_bytes());
    let d = h.finish();
    d.trim_start_matches("sha256:").to_string()
}

/// A step about to be looked up or run.
pub(crate) struct StepSpec {
    /// The vertex name (`[2/5] RUN make`).
    pub(crate) name: String,
    /// The full cache key.
    pub(crate) key: String,
    /// The history entry's `created_by`, without BuildKit's suffix.
    pub(crate) history: String,
    /// Whether `created_by` ends with ` # buildkit` (RUN, COPY, ADD).
    pub(crate) buildkit_suffix: bool,
}

/// Looks the step up in the cache, or runs it with `run` (which returns
/// the new layer), then records the result in the stage's state.
pub(crate) fn step(
    cx: &StageCx,
    st: &mut StageState,
    instr: &Instruction,
    spec: StepSpec,
    run: impl FnOnce(&StageCx, &StageState, VertexId) -> Result<UnpackedLayer>,
) -> Result<()> {
    let v = cx.progress.start(&spec.name);
    let created_by = if spec.buildkit_suffix {
        format!("{} # buildkit", spec.history)
    } else {
        spec.history.clone()
    };
    if !cx.p.no_cache {
        if let Some(rec) = cx.store.cache_record(&spec.key) {
            let usable = rec
                .layer
                .as_ref()
                .is_none_or(|l| cx.store.layer(l).is_some());
            if usable {
                cx.progress.cached(v);
                push(st, &spec.key, rec.layer, rec.created, created_by);
                return Ok(());
            }
        }
    }
    if cx.mode == Mode::CacheOnly {
        return Err(NeedsExecution.into());
    }
    let layer = match run(cx, st, v) {
        Ok(l) => l,
        Err(e) => return Err(fail(cx, v, &spec.name, instr, e)),
    };
    let created = crate::util::humanize::now_rfc3339();
    let diff_id = layer.found.diff_id.clone();
    let record = CacheRecord {
        key: spec.key.clone(),
        layer: Some(diff_id.clone()),
        created: created.clone(),
        description: spec.name.clone(),
    };
    let committed = (|| -> Result<()> {
        let lock = cx.store.lock()?;
        layer.commit_unsynced(cx.store, &lock)?;
        cx.store.save_cache_record(&record, &lock)
    })();
    if let Err(e) = committed {
        cx.progress.error(v, &format!("{e:#}"));
        return Err(e);
    }
    cx.progress.done(v);
    push(st, &spec.key, Some(diff_id), created, created_by);
    Ok(())
}

fn push(
    st: &mut StageState,
    key: &str,
    layer: Option<String>,
    created: String,
    created_by: String,
) {
    st.fs_key = key.to_string();
    let empty_layer = layer.is_none();
    if let Some(l) = layer {
        st.layers.push(l);
        st.config.rootfs.diff_ids = st.layers.clone();
    }
    st.config.history.push(History {
        created: Some(created),
        created_by: Some(created_by),
        author: None,
        comment: Some(HISTORY_COMMENT.into()),
        empty_layer,
    });
}

/// A failed step as BuildKit reports it: the vertex's error line, then the
/// build's error with the vertex, its last output and the Dockerfile lines.
fn fail(
    cx: &StageCx,
    v: VertexId,
    name: &str,
    instr: &Instruction,
    e: anyhow::Error,
) -> anyhow::Error {
    if e.is::<NeedsExecution>() {
        return e;
    }
    let located_err = located(cx.p, instr, String::new());
    let snippet = located_err
        .downcast_ref::<BuildError>()
        .and_then(|b| b.snippet.clone());
    let mut be = match e.downcast::<BuildError>() {
        Ok(b) => b,
        Err(other) => BuildError::new(format!("{other:#}")),
    };
    cx.progress.error(v, &be.message);
    be.vertex.get_or_insert_with(|| name.to_string());
    if be.snippet.is_none() {
        be.snippet = snippet;
    }
    be.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_parent_and_description() {
        let a = key("p", &serde_json::json!({"run": ["a"]}));
        assert_eq!(a.len(), 64);
        assert_eq!(a, key("p", &serde_json::json!({"run": ["a"]})));
        assert_ne!(a, key("q", &serde_json::json!({"run": ["a"]})));
        assert_ne!(a, key("p", &serde_json::json!({"run": ["b"]})));
    }
}
