//! Seccomp: Docker's default profile and Docker-format JSON profiles,
//! compiled to classic BPF by berth itself and installed as the last step
//! before `execve`.
//!
//! The API for the launch paths (`run`, `exec`, health probes, build
//! steps), in the order a caller uses it:
//!
//! 1. Choose the profile: [`Setting::parse`] reads the value of
//!    `--security-opt seccomp=...` (`unconfined` or a file); the default
//!    is [`default_profile`], a static table (no JSON on the launch path).
//! 2. Before forking, compile it for the container: [`build`] with the
//!    container's capability set (its bounding set, which Docker checks
//!    the profile's `caps` against) and [`Options`] (`fakeroot` for users
//!    without subordinate ids, `no_tty_injection` where the process shares
//!    the user's terminal). Compiling the default profile takes about
//!    0.2 ms as the first compile of a process, 0.05 ms after that
//!    (`bench/seccomp.sh`); keep the [`Filter`] and reuse it for every exec
//!    and probe of the same container.
//! 3. In the child, last before `execve`: [`set_no_new_privs`] (always
//!    with `--security-opt no-new-privileges`; otherwise install while the
//!    process still holds CAP_SYS_ADMIN in its user namespace, i.e. before
//!    dropping capabilities, as runc does), then [`install`]. Both only
//!    make system calls, so they are safe between fork and exec.
//!    With `fakeroot`, install only after berth's own `setgroups`/`setuid`
//!    to the container's user: from then on those calls succeed without
//!    effect, berth's included. Whatever runs between the installation and
//!    `execve` must be allowed by the profile (Docker's allows capset,
//!    prctl, setresuid, close_range, execve).
//!
//! What the filter does is documented in `compile.rs` (layout and
//! semantics), `default_profile.rs` (Docker's profile) and `extra.rs`
//! (berth's own rules).

pub mod bpf;
mod compile;
mod default_profile;
pub mod extra;
mod install;
pub mod json;
pub mod profile;
pub mod syscalls;

pub use crate::model::caps::DOCKER_DEFAULT as DOCKER_DEFAULT_CAPS;
pub use compile::{applies, compile, Filter, Target};
pub use default_profile::{ALLOWED as DEFAULT_ALLOWED, CLONE_NAMESPACE_FLAGS, PERSONALITIES};
pub use install::{explain as explain_install_error, install, set_no_new_privs};
pub use profile::{
    Action, Arch, Architectures, ArgCmp, CapMask, CmpOp, Conditions, KernelVersion, Profile, Rule,
};

use anyhow::{anyhow, Result};
use std::path::Path;

/// Docker's default profile (a fresh copy of the static table).
pub fn default_profile() -> Profile {
    default_profile::profile()
}

/// berth's own additions to a profile, each a rule set of `extra.rs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Options {
    /// chown/set*id/setgroups/device mknod succeed without effect: for a
    /// user without subordinate ids (single id mapping).
    pub fakeroot: bool,
    /// ioctl(TIOCSTI) and ioctl(TIOCLINUX) denied: for processes that share
    /// the caller's terminal.
    pub no_tty_injection: bool,
    /// socket(AF_INET/AF_INET6) denied: network isolation where no network
    /// namespace could be made.
    pub no_inet_sockets: bool,
}

impl Options {
    /// The override rules these options stand for.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules = Vec::new();
        if self.fakeroot {
            rules.extend(extra::fakeroot());
        }
        if self.no_tty_injection {
            rules.extend(extra::no_tty_injection());
        }
        if self.no_inet_sockets {
            rules.extend(extra::no_inet_sockets());
        }
        rules
    }
}

/// Compiles `profile` for a process holding `caps` on this kernel and
/// architecture, with berth's `options`.
pub fn build(profile: &Profile, caps: CapMask, options: &Options) -> Result<Filter> {
    compile(profile, &Target::current(caps), &options.rules())
        .map_err(|e| anyhow!("compiling the seccomp profile: {e}"))
}

/// The value of `--security-opt seccomp=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// Docker's default profile.
    Default,
    /// `unconfined`: no filter at all.
    Unconfined,
    /// A profile read from a file.
    Profile(Box<Profile>),
}

impl Setting {
    /// Parses the part after `seccomp=`: `unconfined`, `builtin` (the
    /// default profile, as dockerd names it) or the path of a Docker-format
    /// JSON profile (read now).
    pub fn parse(value: &str) -> Result<Setting> {
        match value {
            "unconfined" => Ok(Setting::Unconfined),
            "builtin" => Ok(Setting::Default),
            "" => Err(anyhow!(
                "--security-opt seccomp= needs a value: unconfined, or the path of a profile"
            )),
            path => Ok(Setting::Profile(Box::new(json::load(Path::new(path))?))),
        }
    }

    /// The profile to compile, or None for `unconfined`.
    pub fn profile(&self) -> Option<Profile> {
        match self {
            Setting::Default => Some(default_profile()),
            Setting::Unconfined => None,
            Setting::Profile(p) => Some((**p).clone()),
        }
    }
}

#[cfg(test)]
mod json_props;
#[cfg(test)]
mod tests;
