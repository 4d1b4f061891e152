//! What runs in the container and as whom: command-line flags of the
//! process (`-e`, `-w`, `-u`, `--entrypoint`, `-h`, `-i`, `-t`,
//! `--stop-signal`, `--init`, `--domainname`, `--group-add`, `-a`).

use crate::model::CreateRequest;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ProcessFlags {
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub(crate) env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub(crate) env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub(crate) workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub(crate) user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long, value_name = "string")]
    pub(crate) entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname", value_name = "string")]
    pub(crate) hostname: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub(crate) interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub(crate) tty: bool,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string")]
    pub(crate) stop_signal: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init")]
    pub(crate) init: bool,
    /// Container NIS domain name
    #[arg(long = "domainname", value_name = "string")]
    pub(crate) domainname: Option<String>,
    /// Add additional groups to join (names of the container's /etc/group, or gids)
    #[arg(long = "group-add", value_name = "list")]
    pub(crate) group_add: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list")]
    pub(crate) attach: Vec<String>,
}

impl ProcessFlags {
    pub(crate) fn apply(&self, req: &mut CreateRequest) -> Result<()> {
        let p = &mut req.process;
        p.env = self.env.clone();
        p.env_files = self.env_file.clone();
        p.workdir = self.workdir.clone();
        p.user = self.user.clone();
        p.entrypoint = self.entrypoint.clone();
        p.hostname = self.hostname.clone();
        p.interactive = self.interactive;
        p.tty = self.tty;
        p.stop_signal = self
            .stop_signal
            .as_deref()
            .map(|s| crate::runtime::spec::check_stop_signal(s, "--stop-signal"))
            .transpose()?;
        p.init = self.init;
        if let Some(d) = &self.domainname {
            crate::runtime::spec::check_domainname(d)?;
        }
        p.domainname = self.domainname.clone();
        for g in &self.group_add {
            crate::runtime::user::check_group_spec(g)?;
        }
        p.group_add = self.group_add.clone();
        p.attach = crate::model::container::AttachStreams::parse(&self.attach, self.interactive)?;
        Ok(())
    }
}
