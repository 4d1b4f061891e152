//! The output of a project's containers, as `compose logs` and an attached
//! `compose up` show it: each container's json-file log read as it grows,
//! cut into lines and handed to a [`LogConsumer`] (the CLI, which prefixes
//! `web-1  | `), and the exits of the containers (`web-1 exited with code
//! 0`).

use super::observed::Container;
use crate::model::Status;
use crate::runtime::logfile::{LogQuery, LogReader};
use crate::store::Store;
use anyhow::Result;

/// Where the output goes (implemented by the CLI).
pub(crate) trait LogConsumer {
    /// A line the container wrote on stdout (without its newline).
    fn log(&self, container: &str, line: &str);
    /// A line the container wrote on stderr.
    fn err(&self, container: &str, line: &str);
    /// A line about the container (`exited with code 0`).
    fn status(&self, container: &str, msg: &str);
    /// A container joins the display (its color is chosen in this order).
    fn register(&self, container: &str);
}

/// Where reading a container's log starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum From {
    /// Its first line.
    Start,
    /// What it writes from now on.
    End,
    /// Its last N lines.
    Tail(usize),
}

struct Followed {
    id: String,
    name: String,
    reader: LogReader,
    out: Vec<u8>,
    err: Vec<u8>,
    /// The finish time last seen: a new one is an exit.
    finished_at: Option<String>,
    gone: bool,
}

/// Follows the logs of a set of containers.
pub(crate) struct Follower {
    query: LogQuery,
    followed: Vec<Followed>,
}

impl Follower {
    pub(crate) fn new(query: LogQuery) -> Follower {
        Follower {
            query,
            followed: Vec::new(),
        }
    }

    pub(crate) fn is_following(&self, id: &str) -> bool {
        self.followed.iter().any(|f| f.id == id)
    }

    /// Adds a container, read from `from`.
    pub(crate) fn add(
        &mut self,
        store: &Store,
        c: &Container,
        from: From,
        consumer: &dyn LogConsumer,
    ) -> Result<()> {
        if self.is_following(c.id()) {
            return Ok(());
        }
        let path = store.container_log(c.id());
        let query = LogQuery {
            tail: match from {
                From::Start => None,
                From::End => Some(0),
                From::Tail(n) => Some(n),
            },
            ..self.query.clone()
        };
        let name = c.log_name();
        consumer.register(&name);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let reader = LogReader::print_existing(&path, &query, &mut out, &mut err)?;
        emit_lines(&mut out, |l| consumer.log(&name, l));
        emit_lines(&mut err, |l| consumer.err(&name, l));
        self.followed.push(Followed {
            id: c.id().to_string(),
            name,
            reader,
            out,
            err,
            finished_at: c.state.finished_at.clone(),
            gone: false,
        });
        Ok(())
    }

    /// Reads what the containers wrote since the last call and hands it
    /// over, line by line.
    pub(crate) fn pump(&mut self, consumer: &dyn LogConsumer) -> Result<()> {
        for f in &mut self.followed {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            f.reader.follow(&self.query, &mut out, &mut err)?;
            f.out.extend_from_slice(&out);
            f.err.extend_from_slice(&err);
            emit_lines(&mut f.out, |l| consumer.log(&f.name, l));
            emit_lines(&mut f.err, |l| consumer.err(&f.name, l));
        }
        Ok(())
    }

    /// Looks at the containers' states: each one that stopped since the
    /// last look is reported (`exited with code N`, with `(restarting)`
    /// when its policy brings it back). Returns the exits seen.
    pub(crate) fn watch(&mut self, store: &Store, consumer: &dyn LogConsumer) -> Result<Vec<Exit>> {
        let mut exits = Vec::new();
        for f in &mut self.followed {
            if f.gone {
                continue;
            }
            let state = match store.observed_state(&f.id) {
                Ok(s) => s,
                Err(_) => {
                    // Removed (`--rm`, or `down` from elsewhere).
                    f.gone = true;
                    continue;
                }
            };
            // Each exit sets a new finish time (also one the restart
            // policy followed before we looked).
            if state.finished_at.is_some() && state.finished_at != f.finished_at {
                let restarting = matches!(
                    state.status,
                    Status::Restarting | Status::Running | Status::Paused
                );
                // The container's last words come before its exit line.
                let (mut out, mut err) = (Vec::new(), Vec::new());
                f.reader.follow(&self.query, &mut out, &mut err)?;
                f.out.extend_from_slice(&out);
                f.err.extend_from_slice(&err);
                emit_lines(&mut f.out, |l| consumer.log(&f.name, l));
                emit_lines(&mut f.err, |l| consumer.err(&f.name, l));
                flush_partial(&mut f.out, |l| consumer.log(&f.name, l));
                flush_partial(&mut f.err, |l| consumer.err(&f.name, l));
                let msg = if restarting {
                    format!("exited with code {} (restarting)", state.exit_code)
                } else {
                    format!("exited with code {}", state.exit_code)
                };
                consumer.status(&f.name, &msg);
                exits.push(Exit {
                    id: f.id.clone(),
                    code: state.exit_code,
                    restarting,
                });
            }
            f.finished_at = state.finished_at.clone();
        }
        Ok(exits)
    }

    /// Whether every followed container has stopped for good (exited and
    /// not restarting, or removed).
    pub(crate) fn all_stopped(&self, store: &Store) -> bool {
        self.followed.iter().all(|f| {
            f.gone
                || store
                    .observed_state(&f.id)
                    .map(|s| !s.status.is_active())
                    .unwrap_or(true)
        })
    }
}

/// A container that stopped.
#[derive(Debug, Clone)]
pub(crate) struct Exit {
    pub(crate) id: String,
    pub(crate) code: i32,
    pub(crate) restarting: bool,
}

/// Hands over each complete line of `buf`, keeping a partial last one.
fn emit_lines(buf: &mut Vec<u8>, mut f: impl FnMut(&str)) {
    let Some(last) = buf.iter().rposition(|&b| b == b'\n') else {
        return;
    };
    let rest = buf.split_off(last + 1);
    for line in buf[..last].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        f(&String::from_utf8_lossy(line));
    }
    *buf = rest;
}

/// Hands over a partial last line.
fn flush_partial(buf: &mut Vec<u8>, mut f: impl FnMut(&str)) {
    if !buf.is_empty() {
        f(&String::from_utf8_lossy(buf));
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_and_partials_kept() {
        let mut buf = b"a\nb\r\nc".to_vec();
        let mut seen = Vec::new();
        emit_lines(&mut buf, |l| seen.push(l.to_string()));
        assert_eq!(seen, ["a", "b"]);
        assert_eq!(buf, b"c");
        buf.extend_from_slice(b"d\n");
        emit_lines(&mut buf, |l| seen.push(l.to_string()));
        assert_eq!(seen, ["a", "b", "cd"]);
        assert!(buf.is_empty());
    }
}
