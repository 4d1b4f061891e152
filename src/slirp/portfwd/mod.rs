//! Published ports (`-p`): parsing ([`spec`]), binding the host side
//! before the container starts ([`listen`]), and the data path the
//! container's monitor drives ([`forward`]).
//!
//! The monitor's part, in order:
//! 1. `let maps = parse_publish(value)?` for each `-p` (the CLI does this);
//! 2. `let listeners = bind_all(&maps)?` before the container starts: a
//!    port in use fails here with Docker's wording;
//! 3. once the container's init runs: `Forwarder::new(listeners, ip,
//!    Some(NetnsSockets::of_pid(init_pid)?))`, add `forwarder.as_fd()` to
//!    the poll set, call `run_once()` when it is readable and honour
//!    `timeout()`; after a restart, `set_netns(...)`.

pub mod forward;
pub mod listen;
pub mod spec;

pub use forward::Forwarder;
pub use listen::{bind_all, bind_one, unprivileged_port_start, Listener};
pub use spec::{parse_publish, PortMapping, Proto};
