//! What confines every process berth starts in a container — its init,
//! `exec`'d processes, health probes, build steps — decided once before
//! forking ([`Confinement`]: capabilities, the compiled seccomp filter,
//! no_new_privs, fakeroot, Landlock) and applied in the child in a fixed
//! order around the change of identity:
//!
//! 1. [`Confinement::before_identity`]: a new session keyring; the
//!    bounding set cut to the container's capabilities; the seccomp filter
//!    installed now, while the process still holds CAP_SYS_ADMIN in its
//!    user namespace (as runc does without no_new_privs), so that the
//!    setuid to a non-root user cannot take that ability away.
//! 2. the caller's setgroups/setresgid/setresuid.
//! 3. [`Confinement::after_identity`]: with fakeroot, the filter goes on
//!    only now (otherwise berth's own setuid would be a no-op; the user is
//!    root of a single mapping, so the capability is still there); the
//!    final capability sets; with no_new_privs: the flag, Landlock and the
//!    filter, last before `execve`.
//!
//! Everything here runs between fork and exec of a single-threaded
//! process and makes system calls only (Landlock's preparation opens the
//! root directory).

use crate::model::{ContainerRecord, SeccompConfig, SecurityConfig};
use crate::seccomp;
use anyhow::{anyhow, bail, Context, Result};
use caps::CapsHashSet;

/// How a container's process is confined, ready for the child.
#[derive(Clone)]
pub(crate) struct Confinement {
    /// Bounding set; permitted and effective for root.
    pub(crate) caps: CapsHashSet,
    filter: Option<seccomp::Filter>,
    no_new_privs: bool,
    /// The filter makes ownership and identity changes succeed without
    /// effect (single id mapping).
    pub(crate) fakeroot: bool,
    /// Landlock: writes only beneath the container's root.
    landlock: bool,
    /// `--privileged`: no masked paths, host devices.
    pub(crate) privileged: bool,
    /// Every capability was asked for (`--privileged`, `exec
    /// --privileged`): those the child holds, whatever berth knows.
    every_cap: bool,
}

impl Confinement {
    /// For the container's init and health probes. `fakeroot`: the user
    /// namespace maps a single id ([`single_mapping_in`]).
    pub(crate) fn for_container(record: &ContainerRecord, fakeroot: bool) -> Result<Confinement> {
        let mut c = Confinement::unfiltered(record, fakeroot);
        c.filter = c.compile_filter(record)?;
        Ok(c)
    }

    /// All but the seccomp filter, which [`Confinement::compile_filter`]
    /// makes: a container's launch compiles it while the init, cloned
    /// already, makes its namespaces, and hands it over
    /// ([`Confinement::set_filter`] in the init).
    pub(crate) fn unfiltered(record: &ContainerRecord, fakeroot: bool) -> Confinement {
        let sec = &record.host.security;
        Confinement {
            caps: super::caps::container_set(sec),
            filter: None,
            no_new_privs: sec.no_new_privileges,
            fakeroot,
            landlock: sec.landlock,
            privileged: sec.privileged,
            every_cap: sec.privileged,
        }
    }

    /// The seccomp filter of `record` (the one this was made from) for
    /// these capabilities; `None` when the container has none.
    pub(crate) fn compile_filter(
        &self,
        record: &ContainerRecord,
    ) -> Result<Option<seccomp::Filter>> {
        compile(&record.host.security, &self.caps, self.fakeroot)
    }

    pub(crate) fn set_filter(&mut self, filter: Option<seccomp::Filter>) {
        self.filter = filter;
    }

    /// For `exec`: the container's confinement, with every capability for
    /// `exec --privileged` (the filter stays the container's, as Docker's).
    pub(crate) fn for_exec(
        record: &ContainerRecord,
        fakeroot: bool,
        privileged: bool,
    ) -> Result<Confinement> {
        let mut c = Confinement::for_container(record, fakeroot)?;
        if privileged {
            c.caps = super::caps::all_set();
            c.every_cap = true;
        }
        Ok(c)
    }

    /// In the child, before the ids change.
    pub(crate) fn before_identity(&self) -> Result<()> {
        join_new_session_keyring()?;
        super::caps::limit_bounding(&self.caps)?;
        if !self.no_new_privs && !self.fakeroot {
            self.install_filter()?;
        }
        Ok(())
    }

    /// In the child, after the ids changed; last before exec.
    pub(crate) fn after_identity(&self, uid: u32) -> Result<()> {
        if !self.no_new_privs && self.fakeroot {
            self.install_filter()?;
        }
        super::caps::apply_after_setuid(&self.caps, uid == 0, self.every_cap)?;
        if self.no_new_privs {
            seccomp::set_no_new_privs().context("setting no_new_privs")?;
        }
        if self.landlock {
            enforce_landlock()?;
        }
        if self.no_new_privs {
            self.install_filter()?;
        }
        Ok(())
    }

    fn install_filter(&self) -> Result<()> {
        if let Some(f) = &self.filter {
            seccomp::install(f).map_err(|e| {
                anyhow!(
                    "installing the seccomp filter: {}: {e}",
                    seccomp::explain_install_error(&e)
                )
            })?;
        }
        Ok(())
    }
}

/// The container's filter: its profile (none for `--privileged` or
/// `unconfined`) compiled for its capabilities, with TIOCSTI denied, and
/// fakeroot's rules for a single id mapping (on an allow-all profile when
/// there is no other).
fn compile(
    sec: &SecurityConfig,
    caps: &CapsHashSet,
    fakeroot: bool,
) -> Result<Option<seccomp::Filter>> {
    let profile = match (&sec.seccomp, sec.privileged) {
        (_, true) | (SeccompConfig::Unconfined, _) => None,
        (SeccompConfig::Default, false) => Some(seccomp::default_profile()),
        (SeccompConfig::Custom(text), false) => {
            Some(seccomp::json::parse(text).context("reading the container's seccomp profile")?)
        }
    };
    let options = seccomp::Options {
        fakeroot,
        no_tty_injection: profile.is_some(),
        no_inet_sockets: false,
    };
    let profile = match profile {
        Some(p) => p,
        None if fakeroot => allow_all(),
        None => return Ok(None),
    };
    seccomp::build(&profile, seccomp::CapMask::from_set(caps), &options).map(Some)
}

fn allow_all() -> seccomp::Profile {
    seccomp::Profile {
        default_action: seccomp::Action::Allow,
        architectures: seccomp::Architectures::List(Vec::new()),
        rules: Vec::new(),
        flags: Vec::new(),
    }
}

/// True when the user namespace of `pid` (ours for None) maps a single
/// id: fakeroot's case, a user without subordinate ids.
pub(crate) fn single_mapping_in(pid: Option<i32>) -> bool {
    let path = match pid {
        Some(p) => format!("/proc/{p}/uid_map"),
        None => "/proc/self/uid_map".to_string(),
    };
    let map = std::fs::read_to_string(path).unwrap_or_default();
    let lines = crate::userns::idmap::parse_proc_map(&map);
    lines.len() == 1 && lines[0].count == 1
}

/// A fresh, empty session keyring, so that nothing of the caller's
/// session keyring (tokens, Kerberos tickets) reaches the container, as
/// runc does. The kernel's keyring is not namespaced.
fn join_new_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a null name creates an anonymous keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOSYS) {
            // A kernel without keys: there is nothing to leak.
            return Ok(());
        }
        return Err(e).context(
            "creating the container's session keyring (the user's key quota, \
             kernel.keys.maxkeys, may be exhausted)",
        );
    }
    Ok(())
}

/// `--landlock`: after pivot_root, the container's `/` is all there is;
/// everything beneath it may be read, written and executed, nothing else
/// (descriptors from outside, procfs links out), and abstract unix
/// sockets and signals stay within the container's processes.
fn enforce_landlock() -> Result<()> {
    let rules = crate::landlock::Rules {
        read_write: vec!["/".into()],
        execute: vec!["/".into()],
        scope_abstract_unix: true,
        scope_signals: true,
        ..Default::default()
    };
    let prepared = crate::landlock::prepare(&rules).context("preparing Landlock")?;
    if prepared.report().abi == 0 {
        anyhow::bail!(
            "--landlock: this kernel has no Landlock (Linux 5.13 or later with `landlock` in \
             the lsm= boot list)"
        );
    }
    prepared.enforce().context("enforcing Landlock")?;
    Ok(())
}

/// The security settings as `run` flags or a compose service give them.
pub(crate) struct Settings<'a> {
    pub(crate) privileged: bool,
    pub(crate) cap_add: &'a [String],
    pub(crate) cap_drop: &'a [String],
    pub(crate) security_opt: &'a [String],
    pub(crate) landlock: bool,
}

/// Checks and canonicalizes the settings (capability names, `--security-opt`
/// values, a seccomp profile read and parsed now): bad values are the
/// user's error at create, not a container that cannot start.
pub(crate) fn config(flags: &Settings) -> Result<SecurityConfig> {
    let names = |list: &[String], flag: &str| -> Result<Vec<String>> {
        list.iter()
            .flat_map(|v| v.split(','))
            .filter(|n| !n.trim().is_empty())
            .map(|n| {
                crate::runtime::caps::canonical_name(n.trim())
                    .with_context(|| format!("{flag} {n}"))
            })
            .collect()
    };
    let mut config = SecurityConfig {
        privileged: flags.privileged,
        cap_add: names(flags.cap_add, "--cap-add")?,
        cap_drop: names(flags.cap_drop, "--cap-drop")?,
        landlock: flags.landlock,
        ..Default::default()
    };
    for opt in flags.security_opt {
        apply_security_opt(&mut config, opt)?;
    }
    Ok(config)
}

/// One `--security-opt` value (`key=value`; Docker also takes `key:value`
/// from its older releases).
fn apply_security_opt(config: &mut SecurityConfig, opt: &str) -> Result<()> {
    let (key, value) = match opt.split_once('=').or_else(|| opt.split_once(':')) {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    match (key, value) {
        ("no-new-privileges", None) => config.no_new_privileges = true,
        ("no-new-privileges", Some(v)) => {
            config.no_new_privileges = match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("invalid --security-opt {opt}: no-new-privileges takes true or false"),
            }
        }
        ("seccomp", Some(v)) => {
            config.seccomp = match v {
                "unconfined" => SeccompConfig::Unconfined,
                "builtin" | "default" => SeccompConfig::Default,
                "" => bail!(
                    "invalid --security-opt {opt}: seccomp needs unconfined, builtin or the path \
                     of a profile in Docker's JSON format"
                ),
                path => {
                    let text = std::fs::read_to_string(path).with_context(|| {
                        format!("--security-opt seccomp={path}: reading the profile")
                    })?;
                    // Checked now: a bad profile is the user's error at create,
                    // not a container that cannot start.
                    crate::seccomp::json::parse(&text)
                        .with_context(|| format!("--security-opt seccomp={path}"))?;
                    SeccompConfig::Custom(text)
                }
            }
        }
        ("label" | "apparmor", Some(_)) => crate::util::report::notice(&format!(
            "--security-opt {opt}: accepted, but berth applies no SELinux label or AppArmor \
             profile (it confines containers with user namespaces, seccomp and, with \
             --landlock, Landlock)"
        )),
        ("systempaths", Some("unconfined")) => bail!(
            "--security-opt systempaths=unconfined is not supported: use --privileged to drop \
             the masked paths"
        ),
        _ => bail!(
            "invalid --security-opt {opt}: berth knows seccomp=unconfined|builtin|PROFILE.json, \
             no-new-privileges[=true|false], label=... and apparmor=... (the last two are not \
             applied)"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sec: SecurityConfig) -> ContainerRecord {
        let mut r = ContainerRecord::default();
        r.host.security = sec;
        r
    }

    #[test]
    fn filters_follow_the_settings() {
        let c = Confinement::for_container(&record(SecurityConfig::default()), false).unwrap();
        assert!(c.filter.is_some() && !c.fakeroot);
        let unconfined = SecurityConfig {
            seccomp: SeccompConfig::Unconfined,
            ..Default::default()
        };
        let c = Confinement::for_container(&record(unconfined.clone()), false).unwrap();
        assert!(c.filter.is_none());
        // Fakeroot keeps its rules even unconfined.
        let c = Confinement::for_container(&record(unconfined), true).unwrap();
        let f = c.filter.as_ref().unwrap();
        let arch = seccomp::Arch::native();
        let nr = |n: &str| crate::seccomp::syscalls::number(arch, n).unwrap();
        assert_eq!(
            f.evaluate(arch, nr("chown"), [0; 6]),
            seccomp::Action::Errno(0).ret_value()
        );
        assert_eq!(
            f.evaluate(arch, nr("mount"), [0; 6]),
            seccomp::Action::Allow.ret_value()
        );
        let p = SecurityConfig {
            privileged: true,
            ..Default::default()
        };
        let c = Confinement::for_container(&record(p), false).unwrap();
        assert!(c.filter.is_none() && c.privileged);
        assert_eq!(c.caps, crate::runtime::caps::all_set());
    }

    #[test]
    fn the_default_filter_denies_keyrings_and_tiocsti() {
        let c = Confinement::for_container(&record(SecurityConfig::default()), false).unwrap();
        let f = c.filter.as_ref().unwrap();
        let arch = seccomp::Arch::native();
        let nr = |n: &str| crate::seccomp::syscalls::number(arch, n).unwrap();
        let eperm = seccomp::Action::Errno(libc::EPERM as u16).ret_value();
        for call in ["keyctl", "add_key", "request_key", "bpf", "userfaultfd"] {
            assert_eq!(f.evaluate(arch, nr(call), [0; 6]), eperm, "{call}");
        }
        #[allow(clippy::unnecessary_cast)]
        let tiocsti = [0, libc::TIOCSTI as u64, 0, 0, 0, 0];
        assert_eq!(f.evaluate(arch, nr("ioctl"), tiocsti), eperm);
    }
}
