//! `--ulimit name=soft[:hard]`: setrlimit in the container's init (and in
//! processes `exec` starts), before capabilities are dropped. Raising a
//! hard limit needs CAP_SYS_RESOURCE in the initial user namespace, which
//! only real root has: `create` checks that first, so a container that
//! could never start is refused with the user's own limit named.

use crate::model::resources::Ulimit;
use anyhow::{bail, Result};

/// The resource of a Docker ulimit name.
fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

fn rlim(v: i64) -> libc::rlim_t {
    if v < 0 {
        libc::RLIM_INFINITY
    } else {
        v as libc::rlim_t
    }
}

fn show(v: libc::rlim_t) -> String {
    if v == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

fn current(resource: libc::__rlimit_resource_t) -> libc::rlimit {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we pass.
    unsafe {
        libc::getrlimit(resource, &mut cur);
    }
    cur
}

/// Refuses ulimits this user could never set: a hard limit above the
/// current one (only real root may raise it).
pub(crate) fn check(ulimits: &[Ulimit], real_root: bool) -> Result<()> {
    if real_root {
        return Ok(());
    }
    for u in ulimits {
        let Some(res) = resource(&u.name) else {
            bail!("invalid ulimit type: {}", u.name);
        };
        let max = current(res).rlim_max;
        let want = rlim(u.hard);
        if want > max {
            bail!(
                "--ulimit {}={}:{}: the hard limit {} is above this user's hard limit {}, and \
                 only root may raise a hard limit; ask for at most {} (an administrator can raise \
                 the user's limit, e.g. in /etc/security/limits.conf)",
                u.name,
                u.soft,
                u.hard,
                show(want),
                show(max),
                show(max)
            );
        }
    }
    Ok(())
}

/// Sets the limits on this process (the container's init before exec).
pub(crate) fn apply(ulimits: &[Ulimit]) -> Result<()> {
    for u in ulimits {
        let Some(res) = resource(&u.name) else {
            bail!("invalid ulimit type: {}", u.name);
        };
        let limit = libc::rlimit {
            rlim_cur: rlim(u.soft),
            rlim_max: rlim(u.hard),
        };
        // SAFETY: setrlimit reads the struct we pass.
        if unsafe { libc::setrlimit(res, &limit) } != 0 {
            let err = std::io::Error::last_os_error();
            let max = current(res).rlim_max;
            bail!(
                "setting --ulimit {}={}:{}: {err} (the hard limit is {}; only root may raise it)",
                u.name,
                u.soft,
                u.hard,
                show(max)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_docker_name_is_known() {
        for n in crate::model::resources::ULIMIT_NAMES {
            assert!(resource(n).is_some(), "{n}");
        }
    }

    #[test]
    fn a_higher_hard_limit_is_refused_unless_root() {
        let max = current(libc::RLIMIT_NOFILE).rlim_max;
        if max == libc::RLIM_INFINITY {
            return;
        }
        let u = Ulimit {
            name: "nofile".into(),
            soft: 1,
            hard: max as i64 + 1,
        };
        let e = check(std::slice::from_ref(&u), false).unwrap_err();
        assert!(e.to_string().contains("only root may raise"), "{e}");
        check(&[u], true).unwrap();
        let lower = Ulimit {
            name: "nofile".into(),
            soft: 1,
            hard: max as i64,
        };
        check(&[lower], false).unwrap();
    }
}
