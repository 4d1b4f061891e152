//! Container records: `containers/<id>/config.json` (what to run, fixed at
//! create) and `state.json` (what happened, rewritten as it changes), plus
//! name reservations under `names/`.

use super::{Store, StoreLock};
use crate::model::event::Event;
use crate::model::{ContainerRecord, ContainerState, Status};
use crate::util::fsutil::{read_json, remove_tree, write_json_atomic};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("No such container: {0}")]
pub(crate) struct NoSuchContainer(pub(crate) String);

impl Store {
    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Every container record, oldest first. A `--rm` container whose
    /// monitor was killed before it could remove it is removed now (its
    /// record; the files go with the next removal), as Docker's daemon
    /// removes such containers when it restarts.
    pub(crate) fn containers(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("containers"))? {
            let path = entry?.path().join("config.json");
            // A directory without a record is a create that was interrupted.
            if path.exists() {
                let record = read_json::<ContainerRecord>(&path)?;
                if record.host.lifecycle.auto_remove && self.abandoned(&record.id) {
                    self.forget_container_record(&record.id);
                    continue;
                }
                out.push(record);
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    pub(crate) fn container(&self, id: &str) -> Result<ContainerRecord> {
        read_json(&self.container_dir(id).join("config.json"))
    }

    /// The container a user means: full id, name, or unique id prefix.
    pub(crate) fn resolve_container(&self, spec: &str) -> Result<ContainerRecord> {
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

    pub(crate) fn container_state(&self, id: &str) -> Result<ContainerState> {
        let path = self.container_dir(id).join("state.json");
        if !path.exists() {
            return Ok(ContainerState::default());
        }
        read_json(&path)
    }

    /// Runtime state is written without waiting for the disk: after a
    /// crash, `observed_state` tells the truth from the processes anyway.
    pub(crate) fn save_container_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        let data = serde_json::to_vec(state)?;
        crate::util::fsutil::write_atomic_relaxed(&self.container_dir(id).join("state.json"), &data)
    }

    /// Fails with Docker's conflict message when a container has the
    /// name; `create` asks before it makes volumes or bind directories.
    pub(crate) fn ensure_name_free(&self, name: &str) -> Result<()> {
        let owner = std::fs::read_to_string(self.root.join("names").join(name)).unwrap_or_default();
        let owner = owner.trim();
        if !owner.is_empty() && self.container_dir(owner).join("config.json").exists() {
            // A `--rm` container whose monitor was killed is removed, not in the way.
            if self
                .container(owner)
                .is_ok_and(|r| r.host.lifecycle.auto_remove && self.abandoned(owner))
            {
                self.forget_container_record(owner);
                return Ok(());
            }
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
    pub(crate) fn create_container(
        &self,
        record: &ContainerRecord,
        _lock: &StoreLock,
    ) -> Result<()> {
        self.reserve_name(&record.name, &record.id)?;
        // The directory is made with its record under tmp/ and renamed into
        // place: a container exists whole or not at all (a kill here
        // leaves at most the name, which `sweep_interrupted` frees).
        let staging = self.temp_path("create");
        crate::util::fsutil::create_dir_mode(&staging, 0o700)?;
        let durable = !record.host.lifecycle.auto_remove;
        // Only the record: the overlay's directories are made at start, by
        // the monitor while the init makes its namespaces on the other
        // core; made here they delayed `run`'s release of its monitor by
        // three ext4 inode allocations (1-2% of `run --rm`). Before a start
        // there is no upper directory, which diff, commit, cp and the size
        // columns read as no changes.
        let placed = (|| -> Result<()> {
            let data = serde_json::to_vec_pretty(record)?;
            let mut f = std::fs::File::create(staging.join("config.json"))?;
            f.write_all(&data)?;
            // `--rm` containers are gone when they exit: not worth waiting
            // for the disk.
            if durable {
                f.sync_all()?;
            }
            std::fs::rename(&staging, self.container_dir(&record.id))?;
            if durable {
                crate::util::fsutil::sync_dir(&self.root.join("containers"))?;
            }
            Ok(())
        })();
        if let Err(e) = placed {
            let _ = crate::util::fsutil::remove_tree(&staging);
            return Err(e.context(format!("creating container {}", record.id)));
        }
        // No state file yet: a container without one is "created".
        self.record_event(&Event::container(record, "create", []));
        Ok(())
    }

    /// Takes the container out of the store at once: its record and name
    /// go, and its directory moves to `tmp/rm-<pid>-<random>`, whose
    /// deletion (a tree walk of the upper layer, milliseconds) the caller
    /// does when it has time (`--rm` after its client was answered). If we
    /// die first, the next command that cleans `tmp/` finishes it.
    pub(crate) fn unlist_container(
        &self,
        record: &ContainerRecord,
        _lock: &StoreLock,
    ) -> Result<PathBuf> {
        // The record and the files go together, with one rename: from here
        // on no listing shows the container.
        let doomed = self.temp_path("rm");
        match std::fs::rename(self.container_dir(&record.id), &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing container {}", record.id)),
        }
        let name_path = self.root.join("names").join(&record.name);
        if std::fs::read_to_string(&name_path).is_ok_and(|id| id.trim() == record.id) {
            let _ = std::fs::remove_file(&name_path);
        }
        self.record_event(&Event::container(record, "destroy", []));
        Ok(doomed)
    }
}

impl Store {
    /// Whether the container's monitor died while it owned the container
    /// (killed with it: `observed_state` reports it exited with code -1).
    fn abandoned(&self, id: &str) -> bool {
        self.container_state(id).is_ok_and(|s| {
            s.status.is_active() && !s.process().is_alive() && !s.monitor().is_alive()
        })
    }

    /// Deletes the container's record, and nothing else: from now on no
    /// listing shows it, and removing its files is the next removal's
    /// work ([`Store::sweep_unrecorded_containers`]). The monitor of a
    /// `--rm` container does this first when it is told to go away.
    pub(crate) fn forget_container_record(&self, id: &str) {
        let _ = std::fs::remove_file(self.container_dir(id).join("config.json"));
    }

    /// Removes the files of containers whose record is gone (a removal
    /// that was cut short). Under the lock, so that no create (which
    /// writes its record under the lock) is taken for one.
    pub(crate) fn sweep_unrecorded_containers(&self, _lock: &StoreLock) {
        let Ok(entries) = std::fs::read_dir(self.root.join("containers")) else {
            return;
        };
        for e in entries.flatten() {
            if !e.path().join("config.json").exists() {
                let _ = remove_tree(&e.path());
            }
        }
    }

    /// The state as it really is: a record that says a monitor owns the
    /// container (running, paused, restarting) when neither the
    /// container's process nor its monitor is there any more (the monitor
    /// was killed, or the machine rebooted) is reported as exited with an
    /// unknown exit code (-1), as it is.
    pub(crate) fn observed_state(&self, id: &str) -> Result<ContainerState> {
        let mut state = self.container_state(id)?;
        // While its monitor lives, the monitor is about to record the real
        // exit: the container is still "running" until it has.
        if state.status.is_active() && !state.process().is_alive() && !state.monitor().is_alive() {
            // The monitor may have recorded the exit and gone between the
            // read and the look at the processes: what it wrote wins.
            let again = self.container_state(id)?;
            if !again.status.is_active() {
                return Ok(again);
            }
            state.status = Status::Exited;
            state.exit_code = -1;
            state.pid = 0;
            state.pid_start = 0;
            if state.error.is_empty() {
                state.error =
                    "the process that ran this container is gone; its exit code is unknown".into();
            }
        }
        Ok(state)
    }
}

impl Store {
    /// The container's log, in Docker's json-file format.
    pub(crate) fn container_log(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("json.log")
    }

    fn stop_mark(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("stopped-by-user")
    }

    /// Records that the user stopped the container, so that no restart
    /// policy brings it back (`stop` is never undone by a restart).
    pub(crate) fn mark_stopped_by_user(&self, id: &str) -> Result<()> {
        std::fs::write(self.stop_mark(id), b"").context("recording the stop")
    }

    pub(crate) fn stopped_by_user(&self, id: &str) -> bool {
        self.stop_mark(id).exists()
    }

    /// A new start forgets an earlier stop.
    pub(crate) fn clear_stop_mark(&self, id: &str) {
        let _ = std::fs::remove_file(self.stop_mark(id));
    }

    /// Writes a changed record (`update`: limits, restart policy;
    /// `network connect`/`disconnect`), unless it was removed meanwhile.
    pub(crate) fn update_container_record(
        &self,
        record: &ContainerRecord,
        _lock: &StoreLock,
    ) -> Result<()> {
        let path = self.container_dir(&record.id).join("config.json");
        if !path.exists() {
            bail!(NoSuchContainer(record.id.clone()));
        }
        write_json_atomic(&path, record)
    }

    /// Gives the container another name; fails if the name is taken.
    pub(crate) fn rename_container(
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
        self.record_event(&Event::container(
            &renamed,
            "rename",
            [("oldName", format!("/{}", record.name))],
        ));
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
