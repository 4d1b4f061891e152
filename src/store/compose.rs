//! `compose/<project>/`: files compose makes for a project's containers,
//! the secrets and configs given by an environment variable or inline
//! content (file-based ones are bound from where they are). Containers
//! bind them read-only; `compose down` removes the directory.

use super::Store;
use crate::util::fsutil::{create_dir_mode, remove_tree};
use anyhow::{bail, Context, Result};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

impl Store {
    /// The project's directory of compose-made files.
    pub(crate) fn compose_dir(&self, project: &str) -> PathBuf {
        self.root().join("compose").join(project)
    }

    /// Writes `kind/name` (`secrets/db_password`) of the project with
    /// `mode`, replacing what was there; its path.
    pub(crate) fn write_compose_file(
        &self,
        project: &str,
        kind: &str,
        name: &str,
        data: &[u8],
        mode: u32,
    ) -> Result<PathBuf> {
        for part in [project, kind, name] {
            let ok = !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                bail!("invalid name {part:?} for a compose {kind} file: use letters, digits, '.', '_' and '-'");
            }
        }
        let dir = self.compose_dir(project).join(kind);
        create_dir_mode(&self.root().join("compose"), 0o700)?;
        create_dir_mode(&self.compose_dir(project), 0o700)?;
        create_dir_mode(&dir, 0o700)?;
        let path = dir.join(name);
        crate::util::fsutil::write_atomic(&path, data)
            .with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
        Ok(path)
    }

    /// Removes the project's compose-made files.
    pub(crate) fn remove_compose_files(&self, project: &str) -> Result<()> {
        let dir = self.compose_dir(project);
        if dir.exists() {
            remove_tree(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_store;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_written_with_their_mode_and_removed_with_the_project() {
        let (_d, store) = test_store();
        let p = store
            .write_compose_file("proj", "secrets", "pw", b"s3cret", 0o444)
            .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"s3cret");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o444
        );
        assert!(store
            .write_compose_file("proj", "secrets", "../x", b"", 0o444)
            .is_err());
        store.remove_compose_files("proj").unwrap();
        assert!(!store.compose_dir("proj").exists());
    }
}
