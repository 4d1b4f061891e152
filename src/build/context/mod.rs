//! The build context: a directory, a tar archive (a file or standard
//! input; plain, gzip or zstd) or a lone Dockerfile on standard input.
//! It is read once: an archive is unpacked into a private staging
//! directory, then the context is walked once with `.dockerignore`
//! applied. COPY/ADD sources are resolved against that walk
//! ([`CopyPlan`]), and the files they use are hashed, once, in parallel
//! ([`ContentHashes`], [`plan_key`]).

mod archive;
mod hash;
mod index;
mod open;
mod sources;

pub use hash::{files_of, plan_key, ContentHashes, Ownership};
pub use index::{Entry, EntryKind, Index};
pub use open::ContextRoot;
pub use sources::{plan, CopyItem, CopyPlan, CopyRequest, DestKind};

use crate::build::ignore::{self, DockerIgnore};
use anyhow::{bail, Context, Result};
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Where the context comes from.
pub enum ContextSource {
    Directory(PathBuf),
    /// A tar archive (from a file or stdin).
    Archive(Box<dyn Read>),
    /// `berth build -`: a tar archive or a Dockerfile, told apart by the
    /// first bytes as Docker does.
    Stdin(Box<dyn Read>),
}

/// Where the Dockerfile comes from.
pub enum DockerfileSource {
    /// `Dockerfile` (else `dockerfile`) at the context root.
    Default,
    /// `-f PATH`: a path on the host for a directory context, a path
    /// inside the archive for an archive context.
    Path(PathBuf),
    /// `-f -`: the text itself.
    Contents(Vec<u8>),
}

/// A context ready for a build.
pub struct BuildContext {
    root: PathBuf,
    /// Holds an unpacked archive until the build ends.
    _staging: Option<tempfile::TempDir>,
    dockerfile: Vec<u8>,
    dockerfile_name: String,
    ignore: DockerIgnore,
    index: Index,
    hashes: ContentHashes,
    files: ContextRoot,
}

/// Whether `head` starts a tar archive (possibly compressed).
fn looks_like_archive(head: &[u8]) -> bool {
    use crate::image::compression::Compression;
    Compression::detect(head) != Compression::None
        || (head.len() >= 262 && &head[257..262] == b"ustar")
}

impl BuildContext {
    /// Opens a context. `staging` is where an archive is unpacked (a
    /// directory of the store's `tmp/`, removed with the context).
    pub fn open(
        source: ContextSource,
        dockerfile: DockerfileSource,
        staging: &Path,
    ) -> Result<BuildContext> {
        let (root, staging_dir, meta, lone_dockerfile) = match source {
            ContextSource::Directory(dir) => {
                let md = std::fs::metadata(&dir).with_context(|| {
                    format!("unable to prepare context: path {:?} not found", dir)
                })?;
                if !md.is_dir() {
                    // A tar file given as the context.
                    let f = std::fs::File::open(&dir)
                        .with_context(|| format!("opening {}", dir.display()))?;
                    return Self::open(ContextSource::Archive(Box::new(f)), dockerfile, staging);
                }
                (dir, None, Default::default(), None)
            }
            ContextSource::Archive(r) => {
                let tmp = tempfile::Builder::new()
                    .prefix("build-context-")
                    .tempdir_in(staging)?;
                let meta = archive::unpack(r, tmp.path())?;
                (tmp.path().to_path_buf(), Some(tmp), meta, None)
            }
            ContextSource::Stdin(mut r) => {
                let mut head = Vec::with_capacity(512);
                r.by_ref()
                    .take(512)
                    .read_to_end(&mut head)
                    .context("reading standard input")?;
                let whole: Box<dyn Read> = Box::new(Cursor::new(head.clone()).chain(r));
                if looks_like_archive(&head) {
                    return Self::open(ContextSource::Archive(whole), dockerfile, staging);
                }
                let mut text = Vec::new();
                { whole }
                    .read_to_end(&mut text)
                    .context("reading the Dockerfile from standard input")?;
                let tmp = tempfile::Builder::new()
                    .prefix("build-context-")
                    .tempdir_in(staging)?;
                (
                    tmp.path().to_path_buf(),
                    Some(tmp),
                    Default::default(),
                    Some(text),
                )
            }
        };
        let lone = lone_dockerfile.is_some();
        let (dockerfile, dockerfile_name, dockerfile_path) = match (lone_dockerfile, dockerfile) {
            (Some(text), _) => (text, "Dockerfile".to_string(), None),
            (None, DockerfileSource::Contents(text)) => (text, "Dockerfile".to_string(), None),
            (None, DockerfileSource::Path(p)) => {
                // For an unpacked archive the path is inside it.
                let full = if staging_dir.is_some() {
                    let rel = crate::util::path::go_clean(&format!("/{}", p.display()));
                    root.join(rel.trim_start_matches('/'))
                } else {
                    p.clone()
                };
                let text = std::fs::read(&full)
                    .with_context(|| format!("unable to read the Dockerfile {}", p.display()))?;
                let name = p
                    .file_name()
                    .map_or("Dockerfile".into(), |n| n.to_string_lossy().into_owned());
                (text, name, Some(full))
            }
            (None, DockerfileSource::Default) => {
                let mut found = None;
                for name in ["Dockerfile", "dockerfile"] {
                    let p = root.join(name);
                    if p.is_file() {
                        found = Some((
                            std::fs::read(&p)
                                .with_context(|| format!("reading {}", p.display()))?,
                            name.to_string(),
                            Some(p),
                        ));
                        break;
                    }
                }
                match found {
                    Some(f) => f,
                    None => bail!(
                        "unable to prepare context: the build context has no Dockerfile; name one with -f"
                    ),
                }
            }
        };
        let ignore =
            ignore::load(&root, dockerfile_path.as_deref()).map_err(|e| anyhow::anyhow!(e))?;
        let index = if lone {
            Index::empty()
        } else {
            Index::build(&root, &ignore.matcher, &meta)?
        };
        let open_root =
            || ContextRoot::open(&root).with_context(|| format!("opening {}", root.display()));
        let hashes = ContentHashes::new(open_root()?);
        let files = open_root()?;
        Ok(BuildContext {
            root,
            _staging: staging_dir,
            dockerfile,
            dockerfile_name,
            ignore,
            index,
            hashes,
            files,
        })
    }

    /// The Dockerfile's bytes (never subject to `.dockerignore`).
    pub fn dockerfile(&self) -> &[u8] {
        &self.dockerfile
    }

    /// The Dockerfile's name for messages.
    pub fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// The directory holding the context's files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ignore(&self) -> &DockerIgnore {
        &self.ignore
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn hashes(&self) -> &ContentHashes {
        &self.hashes
    }

    /// Resolves a COPY/ADD's sources (see [`sources::plan`]).
    pub fn plan(&self, req: &CopyRequest) -> Result<CopyPlan> {
        sources::plan(&self.index, &self.ignore.matcher, req)
    }

    /// Hashes, in parallel, every file the plans use that is not hashed
    /// yet: call once with all the build's plans before keying steps.
    pub fn prefetch_hashes<'a>(&self, plans: impl IntoIterator<Item = &'a CopyPlan>) -> Result<()> {
        let files: Vec<String> = plans.into_iter().flat_map(files_of).collect();
        self.hashes.prefetch(&files, 0)
    }

    /// The content key of a plan (see [`plan_key`]).
    pub fn plan_key(&self, plan: &CopyPlan, own: Ownership) -> Result<String> {
        plan_key(plan, &self.hashes, own)
    }

    /// Opens a context file for reading, refusing symlinks anywhere on the
    /// way (see [`ContextRoot`]).
    pub fn open_file(&self, rel: &str) -> std::io::Result<std::fs::File> {
        self.files.open_file(rel)
    }
}

#[cfg(test)]
mod tests;
