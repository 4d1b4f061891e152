//! Container records: `containers/<id>/config.json` (what to run, fixed at
//! create) and `state.json` (what happened, rewritten as it changes), plus
//! name reservations under `names/`.

use super::{Store, StoreLock};
use crate::util::fsutil::{read_json, remove_tree, write_json_atomic};
use anyhow::{bail, Context, Result};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

/// Everything decided at `create`: the image, the process and its settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// `sha256:` id of the image.
    pub image_id: String,
    /// The layers of the image, base first (kept so that removing the image
    /// does not pull the container's files away).
    pub layers: Vec<String>,
    pub config: ProcessConfig,
    pub host: HostConfig,
}

/// The process to run and its environment (Docker's `Config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessConfig {
    /// The full argv: entrypoint followed by command.
    pub args: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    /// As given: `name`, `uid`, `name:group`, `uid:gid`; empty is root.
    pub user: String,
    pub hostname: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub labels: IndexMap<String, String>,
    pub stop_signal: Option<String>,
    /// Health check from the image or `--health-*`; None when there is none
    /// or `--no-healthcheck`.
    #[serde(default)]
    pub healthcheck: Option<crate::runtime::health::HealthConfig>,
    /// `--init`: a minimal init runs as pid 1, reaping and forwarding signals.
    #[serde(default)]
    pub init: bool,
}

/// How the container is attached to the host (Docker's `HostConfig`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HostConfig {
    /// Volumes, binds and tmpfs mounts, in the order they are mounted.
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
    pub network_mode: String,
    pub read_only: bool,
    pub auto_remove: bool,
    #[serde(default)]
    pub restart: crate::runtime::policy::RestartPolicy,
}

/// Which kind of mount a `MountPoint` is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

/// One mount of a container (`-v`, `--mount`, `--tmpfs`, an image VOLUME).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MountPoint {
    pub kind: MountKind,
    /// Host path for binds, the volume's `_data` for volumes, empty for tmpfs.
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    pub read_only: bool,
    /// The volume's name, for volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Anonymous volumes go away with `rm -v` and `run --rm`.
    #[serde(default)]
    pub anonymous: bool,
    /// Do not fill an empty volume with the image's content at the path.
    #[serde(default)]
    pub nocopy: bool,
    /// Mount options of a tmpfs (`size=64m,mode=1777`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tmpfs_options: String,
}

/// What a container is doing or did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerState {
    /// created, running, exited
    pub status: String,
    pub pid: i32,
    pub exit_code: i32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    #[serde(default)]
    pub error: String,
    /// Restarts done by the restart policy since the last `start`.
    #[serde(default)]
    pub restart_count: u32,
    #[serde(default)]
    pub health: Option<crate::runtime::health::HealthState>,
    /// The monitor process that owns the running container.
    #[serde(default)]
    pub monitor_pid: i32,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: "created".into(),
            pid: 0,
            exit_code: 0,
            started_at: None,
            finished_at: None,
            error: String::new(),
            restart_count: 0,
            health: None,
            monitor_pid: 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("No such container: {0}")]
pub struct NoSuchContainer(pub String);

impl Store {
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Every container record, oldest first.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("containers"))? {
            let path = entry?.path().join("config.json");
            // A directory without a record is a create that was interrupted.
            if path.exists() {
                out.push(read_json::<ContainerRecord>(&path)?);
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    pub fn container(&self, id: &str) -> Result<ContainerRecord> {
        read_json(&self.container_dir(id).join("config.json"))
    }

    /// The container a user means: full id, name, or unique id prefix.
    pub fn resolve_container(&self, spec: &str) -> Result<ContainerRecord> {
        let spec = spec.strip_prefix('/').unwrap_or(spec);
        if spec.is_empty() {
            bail!(NoSuchContainer(spec.to_string()));
        }
        if self.container_dir(spec).join("config.json").exists() {
            return self.container(spec);
        }
        if let Ok(id) = std::fs::read_to_string(self.root.join("names").join(spec)) {
            if let Ok(c) = self.container(id.trim()) {
                return Ok(c);
            }
        }
        let matches: Vec<ContainerRecord> = self
            .containers()?
            .into_iter()
            .filter(|c| c.id.starts_with(spec))
            .collect();
        match matches.len() {
            0 => bail!(NoSuchContainer(spec.to_string())),
            1 => Ok(matches.into_iter().next().unwrap()),
            n => bail!("container ID prefix {spec:?} is ambiguous: it matches {n} containers; type more characters of the ID"),
        }
    }

    pub fn container_state(&self, id: &str) -> Result<ContainerState> {
        let path = self.container_dir(id).join("state.json");
        if !path.exists() {
            return Ok(ContainerState::default());
        }
        read_json(&path)
    }

    /// Runtime state is written without waiting for the disk: after a
    /// crash, `observed_state` tells the truth from the processes anyway.
    pub fn save_container_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        let data = serde_json::to_vec(state)?;
        crate::util::fsutil::write_atomic_relaxed(&self.container_dir(id).join("state.json"), &data)
    }

    /// Fails with Docker's conflict message when a container has the
    /// name; `create` asks before it makes volumes or bind directories.
    pub fn ensure_name_free(&self, name: &str) -> Result<()> {
        let owner = std::fs::read_to_string(self.root.join("names").join(name)).unwrap_or_default();
        let owner = owner.trim();
        if !owner.is_empty() && self.container_dir(owner).join("config.json").exists() {
            bail!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
            );
        }
        Ok(())
    }

    /// A generated name (`brave_turing`) that no container has. A drawn
    /// name that is taken is drawn again, never an error: 64 runs at once
    /// (Slurm ranks) would otherwise collide in the 754 combinations. After
    /// a few draws a digit is appended, as Docker does, so a store with
    /// every combination in use still gets a name. The caller holds the
    /// store lock, so the name stays free until its record is written.
    pub fn free_generated_name(&self) -> String {
        let mut name = crate::util::ids::random_name();
        let mut draws = 0u32;
        while self.ensure_name_free(&name).is_err() {
            draws += 1;
            name = crate::util::ids::random_name();
            if draws > 8 {
                name.push_str(&(draws % 1000).to_string());
            }
        }
        name
    }

    /// Takes `name` for container `id` with an exclusive create, so two
    /// commands can never both get it; a reservation whose container is
    /// gone (an interrupted create or rm) is taken over.
    fn reserve_name(&self, name: &str, id: &str) -> Result<()> {
        let path = self.root.join("names").join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => Ok(f.write_all(id.as_bytes())?),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                self.ensure_name_free(name)?;
                // A stale reservation from an interrupted create or rm.
                Ok(std::fs::write(&path, id.as_bytes())?)
            }
            Err(e) => Err(e).context("reserving the container name"),
        }
    }

    /// Reserves the name and writes the record; fails if the name is taken.
    pub fn create_container(&self, record: &ContainerRecord, _lock: &StoreLock) -> Result<()> {
        self.reserve_name(&record.name, &record.id)?;
        let dir = self.container_dir(&record.id);
        crate::util::fsutil::create_dir_mode(&dir, 0o700)?;
        // No state file yet: a container without one is "created".
        if record.host.auto_remove {
            // Gone when it exits: not worth waiting for the disk.
            let data = serde_json::to_vec(record)?;
            crate::util::fsutil::write_atomic_relaxed(&dir.join("config.json"), &data)
        } else {
            write_json_atomic(&dir.join("config.json"), record)
        }
    }

    /// Removes the record, its files and its name. The caller has checked
    /// that it is not running and runs inside the user namespace (the upper
    /// layer holds files owned by subordinate ids).
    pub fn remove_container(&self, record: &ContainerRecord, _lock: &StoreLock) -> Result<()> {
        let dir = self.container_dir(&record.id);
        // The record goes first, so a crash part-way leaves a directory that
        // no listing shows and the next removal attempt finishes.
        let _ = std::fs::remove_file(dir.join("config.json"));
        let name_path = self.root.join("names").join(&record.name);
        if std::fs::read_to_string(&name_path).is_ok_and(|id| id.trim() == record.id) {
            let _ = std::fs::remove_file(&name_path);
        }
        remove_tree(&dir).with_context(|| format!("removing container {}", record.id))
    }
}

impl Store {
    /// The state as it really is: a record that says "running" whose
    /// process is gone (its launcher was killed, or the machine rebooted)
    /// is reported as exited with an unknown exit code (-1), as it is.
    pub fn observed_state(&self, id: &str) -> Result<ContainerState> {
        let mut state = self.container_state(id)?;
        // While its monitor lives, the monitor is about to record the real
        // exit: the container is still "running" until it has.
        if state.status == "running" && !pid_alive(state.pid) && !pid_alive(state.monitor_pid) {
            state.status = "exited".into();
            state.exit_code = -1;
            state.pid = 0;
            if state.error.is_empty() {
                state.error =
                    "the process that ran this container is gone; its exit code is unknown".into();
            }
        }
        Ok(state)
    }
}

fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // A zombie counts as gone: its exit is final even if nobody reaped it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

impl Store {
    /// The container's log, in Docker's json-file format.
    pub fn container_log(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("json.log")
    }

    fn stop_mark(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("stopped-by-user")
    }

    /// Records that the user stopped the container, so that no restart
    /// policy brings it back (`stop` is never undone by a restart).
    pub fn mark_stopped_by_user(&self, id: &str) -> Result<()> {
        std::fs::write(self.stop_mark(id), b"").context("recording the stop")
    }

    pub fn stopped_by_user(&self, id: &str) -> bool {
        self.stop_mark(id).exists()
    }

    /// A new start forgets an earlier stop.
    pub fn clear_stop_mark(&self, id: &str) {
        let _ = std::fs::remove_file(self.stop_mark(id));
    }

    /// Gives the container another name; fails if the name is taken.
    pub fn rename_container(
        &self,
        record: &ContainerRecord,
        new_name: &str,
        _lock: &StoreLock,
    ) -> Result<()> {
        self.reserve_name(new_name, &record.id)?;
        let mut renamed = record.clone();
        renamed.name = new_name.to_string();
        write_json_atomic(
            &self.container_dir(&record.id).join("config.json"),
            &renamed,
        )?;
        let _ = std::fs::remove_file(self.root.join("names").join(&record.name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_taken_generated_name_is_drawn_again() {
        let (_d, store) = crate::store::test_store();
        // Every combination is in use by a container that exists.
        let holder = store.container_dir("holder");
        std::fs::create_dir_all(&holder).unwrap();
        std::fs::write(holder.join("config.json"), b"{}").unwrap();
        for name in crate::util::ids::every_name() {
            std::fs::write(store.root().join("names").join(&name), b"holder").unwrap();
        }
        let name = store.free_generated_name();
        assert!(store.ensure_name_free(&name).is_ok(), "{name}");
        assert!(name.ends_with(|c: char| c.is_ascii_digit()), "{name}");
    }
}
