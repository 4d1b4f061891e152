//! The variables a stage sees while it is evaluated (BuildKit's dispatch
//! state): the base image's environment, then every ENV and ARG in order.
//! ARG values are visible to later instructions and to RUN's environment
//! but do not go into the image config; ENV values go to both.

use crate::build::shell::Env;

/// One variable and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Var {
    name: String,
    value: String,
    /// Set by ARG (a build argument), not by ENV or the base image.
    from_arg: bool,
}

/// A stage's variables at one point of its evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    vars: Vec<Var>,
    /// The image config's `Env` (base image + ENV), in order.
    config_env: Vec<(String, String)>,
    /// ARGs in scope, in declaration order, with the value they got.
    args: Vec<(String, Option<String>)>,
}

impl Scope {
    /// A stage starting from an image whose config has `env`
    /// (`KEY=value` strings). BuildKit adds a default PATH when the image
    /// has none.
    pub fn from_image_env(env: &[String]) -> Scope {
        let mut s = Scope::default();
        for e in env {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            s.set_env(k, v);
        }
        if s.get("PATH").is_none() {
            s.set_env("PATH", DEFAULT_PATH);
        }
        s
    }

    /// Sets an ENV variable (replacing an earlier one in place, as
    /// BuildKit's `addEnv` does).
    pub fn set_env(&mut self, name: &str, value: &str) {
        set(&mut self.vars, name, value, false);
        match self.config_env.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.config_env.push((name.to_string(), value.to_string())),
        }
    }

    /// Records an ARG; with a value it becomes visible as a variable.
    pub fn set_arg(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            set(&mut self.vars, name, v, true);
        }
        self.args
            .push((name.to_string(), value.map(str::to_string)));
    }

    /// A variable's current value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.as_str())
    }

    /// Whether `name` currently holds a build argument's value.
    pub fn is_arg(&self, name: &str) -> bool {
        self.vars.iter().any(|v| v.name == name && v.from_arg)
    }

    /// The environment a RUN step gets: image env, ENV and ARG values.
    pub fn run_env(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect()
    }

    /// The image config's `Env` as `KEY=value`.
    pub fn config_env(&self) -> Vec<String> {
        self.config_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// The ARGs in scope with their values, first declaration order, each
    /// name once with its current value: what BuildKit writes before a RUN
    /// command in the history (`|2 A=1 B=2 /bin/sh -c ...`) and what the
    /// RUN's cache key must cover.
    pub fn run_args(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.args {
            let v = self
                .get(name)
                .map(str::to_string)
                .unwrap_or_else(|| value.clone().unwrap_or_default());
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = v,
                None => out.push((name.clone(), v)),
            }
        }
        out
    }
}

fn set(vars: &mut Vec<Var>, name: &str, value: &str, from_arg: bool) {
    match vars.iter_mut().find(|v| v.name == name) {
        Some(v) => {
            v.value = value.to_string();
            v.from_arg = from_arg;
        }
        None => vars.push(Var {
            name: name.to_string(),
            value: value.to_string(),
            from_arg,
        }),
    }
}

/// BuildKit's default PATH for Linux images without one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Env for Scope {
    fn get(&self, name: &str) -> Option<String> {
        Scope::get(self, name).map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_and_args_layer_in_order() {
        let mut s = Scope::from_image_env(&["PATH=/bin".into(), "HOME=/root".into()]);
        s.set_arg("V", Some("1"));
        s.set_arg("U", None);
        assert_eq!(s.get("V"), Some("1"));
        assert!(s.is_arg("V"));
        s.set_env("V", "2");
        assert!(!s.is_arg("V"));
        assert_eq!(s.config_env(), ["PATH=/bin", "HOME=/root", "V=2"]);
        assert_eq!(
            s.run_args(),
            [
                ("V".to_string(), "2".to_string()),
                ("U".to_string(), String::new())
            ]
        );
        assert_eq!(s.run_env().len(), 3);
        let s = Scope::from_image_env(&[]);
        assert_eq!(s.get("PATH"), Some(DEFAULT_PATH));
    }
}
