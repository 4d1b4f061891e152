//! Docker's seccomp profile format (`--security-opt seccomp=PROFILE.json`)
//! read into a [`Profile`].
//!
//! Fields: `defaultAction`, `defaultErrnoRet`, `architectures` or
//! `archMap` (not both), `flags`, `syscalls[]` with `names` (or the older
//! `name`), `action`, `errnoRet`, `args[]` (`index`, `value`, `valueTwo`,
//! `op`), `includes`/`excludes` (`caps`, `arches`, `minKernel`) and
//! `comment`. Unknown fields are ignored, as Docker ignores them; syscall
//! names unknown on an architecture are skipped when compiling, as Docker
//! skips them. Every error names the file and the entry at fault
//! (`syscalls[3].args[0].op`), and what would be accepted.
//!
//! Differences from Docker: `SCMP_ACT_NOTIFY` and `listenerPath` are
//! refused (berth has no seccomp agent), and a file with neither
//! `defaultAction` nor `syscalls` is an error rather than "unconfined"
//! (say `seccomp=unconfined` for that).

use super::profile::{
    Action, Arch, Architectures, ArgCmp, CapMask, CmpOp, Conditions, FilterFlag, KernelVersion,
    Profile, Rule,
};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;

const EPERM: u16 = 1;

const ACTIONS: &str = "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, \
                       SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG";
const OPS: &str = "SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, \
                   SCMP_CMP_GE, SCMP_CMP_MASKED_EQ";

/// Reads and parses a profile file.
pub fn load(path: &Path) -> Result<Profile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the seccomp profile {}", path.display()))?;
    parse(&text).with_context(|| format!("in the seccomp profile {}", path.display()))
}

/// Parses a profile from JSON text.
pub fn parse(text: &str) -> Result<Profile> {
    let root: Value = serde_json::from_str(text).map_err(|e| anyhow!("invalid JSON: {e}"))?;
    let obj = root
        .as_object()
        .ok_or_else(|| anyhow!("the profile must be a JSON object"))?;
    let syscalls = match obj.get("syscalls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => bail!("syscalls: must be a list"),
    };
    let default_name = opt_str(obj, "defaultAction", "defaultAction")?;
    let Some(default_name) = default_name.filter(|s| !s.is_empty()) else {
        if syscalls.is_empty() {
            bail!(
                "no defaultAction and no syscalls: the profile says nothing (Docker would run \
                 unconfined; say `--security-opt seccomp=unconfined` for that)"
            );
        }
        bail!("defaultAction: missing; use one of {ACTIONS}");
    };
    let default_errno = opt_u16(obj, "defaultErrnoRet", "defaultErrnoRet")?;
    let default_action = action(default_name, default_errno, "defaultAction")?;
    for key in ["listenerPath", "listenerMetadata"] {
        if obj
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            bail!("{key}: seccomp user notification (SCMP_ACT_NOTIFY) is not supported by berth");
        }
    }
    let has = |k: &str| {
        obj.get(k)
            .is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    };
    if has("architectures") && has("archMap") {
        bail!("both 'architectures' and 'archMap' are given: use one of them");
    }
    let architectures = if has("archMap") {
        Architectures::Map(arch_map(&obj["archMap"])?)
    } else {
        Architectures::List(arch_list(obj.get("architectures"), "architectures")?)
    };
    let flags = filter_flags(obj.get("flags"))?;
    let rules = syscalls
        .iter()
        .enumerate()
        .map(|(i, s)| syscall(s, &format!("syscalls[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Profile {
        default_action,
        architectures,
        rules,
        flags,
    })
}

fn opt_str<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<Option<&'a str>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => bail!("{at}: must be a string, not {v}"),
    }
}

fn opt_u64(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u64>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| anyhow!("{at}: must be a whole number from 0 to 2^64-1, not {v}")),
    }
}

fn opt_u16(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<u16>> {
    match opt_u64(obj, key, at)? {
        None => Ok(None),
        // The kernel caps errno values at MAX_ERRNO (4095).
        Some(n) if n <= 4095 => Ok(Some(n as u16)),
        Some(n) => bail!("{at}: {n} is not an errno value (0 to 4095)"),
    }
}

fn strings<'a>(v: Option<&'a Value>, at: &str) -> Result<Vec<&'a str>> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.as_str()
                    .ok_or_else(|| anyhow!("{at}[{i}]: must be a string, not {s}"))
            })
            .collect(),
        Some(v) => bail!("{at}: must be a list of strings, not {v}"),
    }
}

fn action(name: &str, errno: Option<u16>, at: &str) -> Result<Action> {
    let errno_too = |a: Action| -> Result<Action> {
        match errno {
            Some(_) => bail!(
                "{at}: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {name}"
            ),
            None => Ok(a),
        }
    };
    match name {
        "SCMP_ACT_ALLOW" => errno_too(Action::Allow),
        "SCMP_ACT_ERRNO" => Ok(Action::Errno(errno.unwrap_or(EPERM))),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => errno_too(Action::KillThread),
        "SCMP_ACT_KILL_PROCESS" => errno_too(Action::KillProcess),
        "SCMP_ACT_TRAP" => errno_too(Action::Trap),
        "SCMP_ACT_TRACE" => Ok(Action::Trace(errno.unwrap_or(EPERM))),
        "SCMP_ACT_LOG" => errno_too(Action::Log),
        "SCMP_ACT_NOTIFY" => {
            bail!("{at}: SCMP_ACT_NOTIFY (seccomp user notification) is not supported by berth")
        }
        other => bail!("{at}: unknown action {other:?}; use one of {ACTIONS}"),
    }
}

fn arch(name: &str, at: &str) -> Result<Arch> {
    Arch::from_scmp(name).ok_or_else(|| {
        anyhow!(
            "{at}: unknown architecture {name:?}; architectures are named as libseccomp's, e.g. \
             SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM"
        )
    })
}

fn arch_list(v: Option<&Value>, at: &str) -> Result<Vec<Arch>> {
    strings(v, at)?
        .iter()
        .enumerate()
        .map(|(i, a)| arch(a, &format!("{at}[{i}]")))
        .collect()
}

fn arch_map(v: &Value) -> Result<Vec<(Arch, Vec<Arch>)>> {
    let list = v
        .as_array()
        .ok_or_else(|| anyhow!("archMap: must be a list of {{architecture, subArchitectures}}"))?;
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let at = format!("archMap[{i}]");
            let obj = e
                .as_object()
                .ok_or_else(|| anyhow!("{at}: must be an object"))?;
            let name = opt_str(obj, "architecture", &format!("{at}.architecture"))?
                .ok_or_else(|| anyhow!("{at}.architecture: missing"))?;
            let main = arch(name, &format!("{at}.architecture"))?;
            let subs = arch_list(
                obj.get("subArchitectures"),
                &format!("{at}.subArchitectures"),
            )?;
            Ok((main, subs))
        })
        .collect()
}

fn filter_flags(v: Option<&Value>) -> Result<Vec<FilterFlag>> {
    strings(v, "flags")?
        .iter()
        .enumerate()
        .map(|(i, f)| match *f {
            "SECCOMP_FILTER_FLAG_LOG" => Ok(FilterFlag::Log),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => Ok(FilterFlag::SpecAllow),
            // berth installs the filter on a single thread before exec;
            // TSYNC has nothing more to synchronise.
            "SECCOMP_FILTER_FLAG_TSYNC" => {
                bail!("flags[{i}]: SECCOMP_FILTER_FLAG_TSYNC is not accepted in a profile")
            }
            other => bail!(
                "flags[{i}]: unknown flag {other:?}; use SECCOMP_FILTER_FLAG_LOG or \
                 SECCOMP_FILTER_FLAG_SPEC_ALLOW"
            ),
        })
        .collect()
}

fn op(name: &str, at: &str) -> Result<CmpOp> {
    Ok(match name {
        "SCMP_CMP_EQ" => CmpOp::Eq,
        "SCMP_CMP_NE" => CmpOp::Ne,
        "SCMP_CMP_LT" => CmpOp::Lt,
        "SCMP_CMP_LE" => CmpOp::Le,
        "SCMP_CMP_GT" => CmpOp::Gt,
        "SCMP_CMP_GE" => CmpOp::Ge,
        "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
        other => bail!("{at}: unknown operator {other:?}; use one of {OPS}"),
    })
}

fn arg(v: &Value, at: &str) -> Result<ArgCmp> {
    let obj = v
        .as_object()
        .ok_or_else(|| anyhow!("{at}: must be an object with index, value, valueTwo and op"))?;
    let index = opt_u64(obj, "index", &format!("{at}.index"))?
        .ok_or_else(|| anyhow!("{at}.index: missing"))?;
    if index > 5 {
        bail!("{at}.index: {index} is not an argument index (0 to 5)");
    }
    let value = opt_u64(obj, "value", &format!("{at}.value"))?.unwrap_or(0);
    let value_two = opt_u64(obj, "valueTwo", &format!("{at}.valueTwo"))?.unwrap_or(0);
    let op_name = opt_str(obj, "op", &format!("{at}.op"))?
        .ok_or_else(|| anyhow!("{at}.op: missing; use one of {OPS}"))?;
    Ok(ArgCmp {
        index: index as u8,
        value,
        value_two,
        op: op(op_name, &format!("{at}.op"))?,
    })
}

fn conditions(v: Option<&Value>, at: &str) -> Result<Conditions> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(Conditions::default()),
        Some(Value::Object(o)) => o,
        Some(v) => bail!("{at}: must be an object with caps, arches and minKernel, not {v}"),
    };
    let mut c = Conditions::default();
    for name in strings(obj.get("caps"), &format!("{at}.caps"))? {
        let full = if name.to_ascii_uppercase().starts_with("CAP_") {
            name.to_ascii_uppercase()
        } else {
            format!("CAP_{}", name.to_ascii_uppercase())
        };
        match caps::Capability::from_str(&full) {
            Ok(cap) => c.caps = CapMask(c.caps.0 | cap.bitmask()),
            Err(_) => c.unknown_caps.push(name.to_string()),
        }
    }
    c.arches = strings(obj.get("arches"), &format!("{at}.arches"))?
        .into_iter()
        .map(|a| Cow::Owned(a.to_string()))
        .collect();
    if let Some(k) = opt_str(obj, "minKernel", &format!("{at}.minKernel"))? {
        if !k.is_empty() {
            c.min_kernel = Some(kernel_version(k, &format!("{at}.minKernel"))?);
        }
    }
    Ok(c)
}

fn kernel_version(s: &str, at: &str) -> Result<KernelVersion> {
    let bad = || {
        anyhow!("{at}: invalid kernel version {s:?}, expected \"<major>.<minor>\" such as \"4.8\"")
    };
    let (major, minor) = s.split_once('.').ok_or_else(bad)?;
    let major: u32 = major.parse().map_err(|_| bad())?;
    let minor: u32 = minor.parse().map_err(|_| bad())?;
    if major == 0 && minor == 0 {
        return Err(bad());
    }
    Ok(KernelVersion::new(major, minor))
}

fn syscall(v: &Value, at: &str) -> Result<Rule> {
    let obj = v
        .as_object()
        .ok_or_else(|| anyhow!("{at}: must be an object with names and action"))?;
    let mut names = strings(obj.get("names"), &format!("{at}.names"))?;
    if let Some(name) = opt_str(obj, "name", &format!("{at}.name"))?.filter(|s| !s.is_empty()) {
        if !names.is_empty() {
            bail!("{at}: both 'name' and 'names' are given: use 'names'");
        }
        names.push(name);
    }
    let label = if names.is_empty() {
        at.to_string()
    } else {
        format!("{at} ({})", names.join(", "))
    };
    if names.is_empty() {
        bail!("{label}: no syscall names");
    }
    if let Some(bad) = names.iter().find(|n| n.is_empty()) {
        bail!("{label}: an empty syscall name {bad:?}");
    }
    let errno = opt_u16(obj, "errnoRet", &format!("{label}.errnoRet"))?;
    let action_name = opt_str(obj, "action", &format!("{label}.action"))?
        .ok_or_else(|| anyhow!("{label}.action: missing; use one of {ACTIONS}"))?;
    let action = action(action_name, errno, &format!("{label}.action"))?;
    let args = match obj.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| arg(v, &format!("{label}.args[{i}]")))
            .collect::<Result<_>>()?,
        Some(v) => bail!("{label}.args: must be a list, not {v}"),
    };
    Ok(Rule {
        names: names.iter().map(|n| Cow::Owned(n.to_string())).collect(),
        action,
        args,
        includes: conditions(obj.get("includes"), &format!("{label}.includes"))?,
        excludes: conditions(obj.get("excludes"), &format!("{label}.excludes"))?,
    })
}

/// Writes a profile in Docker's format (what [`parse`] reads back).
pub fn to_json(profile: &Profile) -> Value {
    use serde_json::json;
    let action_json = |a: Action| -> (&'static str, Option<u16>) {
        match a {
            Action::Allow => ("SCMP_ACT_ALLOW", None),
            Action::Errno(e) => ("SCMP_ACT_ERRNO", Some(e)),
            Action::KillThread => ("SCMP_ACT_KILL_THREAD", None),
            Action::KillProcess => ("SCMP_ACT_KILL_PROCESS", None),
            Action::Trap => ("SCMP_ACT_TRAP", None),
            Action::Trace(m) => ("SCMP_ACT_TRACE", Some(m)),
            Action::Log => ("SCMP_ACT_LOG", None),
        }
    };
    let op_name = |op: CmpOp| match op {
        CmpOp::Eq => "SCMP_CMP_EQ",
        CmpOp::Ne => "SCMP_CMP_NE",
        CmpOp::Lt => "SCMP_CMP_LT",
        CmpOp::Le => "SCMP_CMP_LE",
        CmpOp::Gt => "SCMP_CMP_GT",
        CmpOp::Ge => "SCMP_CMP_GE",
        CmpOp::MaskedEq => "SCMP_CMP_MASKED_EQ",
    };
    let conditions_json = |c: &Conditions| -> Option<Value> {
        if c.is_empty() {
            return None;
        }
        let mut o = Map::new();
        let mut caps: Vec<String> = caps::all()
            .into_iter()
            .filter(|cap| c.caps.contains(*cap))
            .map(|cap| cap.to_string())
            .collect();
        caps.sort();
        caps.extend(c.unknown_caps.iter().cloned());
        if !caps.is_empty() {
            o.insert("caps".into(), json!(caps));
        }
        if !c.arches.is_empty() {
            o.insert("arches".into(), json!(c.arches));
        }
        if let Some(k) = c.min_kernel {
            o.insert("minKernel".into(), json!(k.to_string()));
        }
        Some(Value::Object(o))
    };
    let mut root = Map::new();
    let (default, default_errno) = action_json(profile.default_action);
    root.insert("defaultAction".into(), json!(default));
    if let Some(e) = default_errno {
        root.insert("defaultErrnoRet".into(), json!(e));
    }
    match &profile.architectures {
        Architectures::Map(map) => {
            let entries: Vec<Value> = map
                .iter()
                .map(|(a, subs)| {
                    json!({
                        "architecture": a.scmp_name(),
                        "subArchitectures": subs.iter().map(|s| s.scmp_name()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            root.insert("archMap".into(), json!(entries));
        }
        Architectures::List(list) => {
            let names: Vec<&str> = list.iter().map(|a| a.scmp_name()).collect();
            root.insert("architectures".into(), json!(names));
        }
    }
    if !profile.flags.is_empty() {
        let flags: Vec<&str> = profile
            .flags
            .iter()
            .map(|f| match f {
                FilterFlag::Log => "SECCOMP_FILTER_FLAG_LOG",
                FilterFlag::SpecAllow => "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            })
            .collect();
        root.insert("flags".into(), json!(flags));
    }
    let rules: Vec<Value> = profile
        .rules
        .iter()
        .map(|r| {
            let mut o = Map::new();
            o.insert("names".into(), json!(r.names));
            let (name, errno) = action_json(r.action);
            o.insert("action".into(), json!(name));
            if let Some(e) = errno {
                o.insert("errnoRet".into(), json!(e));
            }
            if !r.args.is_empty() {
                let args: Vec<Value> = r
                    .args
                    .iter()
                    .map(|a| {
                        json!({"index": a.index, "value": a.value, "valueTwo": a.value_two,
                               "op": op_name(a.op)})
                    })
                    .collect();
                o.insert("args".into(), json!(args));
            }
            if let Some(c) = conditions_json(&r.includes) {
                o.insert("includes".into(), c);
            }
            if let Some(c) = conditions_json(&r.excludes) {
                o.insert("excludes".into(), c);
            }
            Value::Object(o)
        })
        .collect();
    root.insert("syscalls".into(), json!(rules));
    Value::Object(root)
}
