//! Network operations on containers, for the CLI and compose:
//! [`preflight`] before `run` creates anything, [`connect`] and
//! [`disconnect`] (`network connect`/`disconnect`, running or not).
//!
//! The record changes under the store lock; a running container's monitor
//! is then asked to do it (it owns the namespace, the addresses and the
//! memberships) and the record change is undone if it refuses.

use super::records;
use crate::model::network::EndpointConfig;
use crate::model::{ContainerRecord, NetworkConfig, NetworkMode};
use crate::runtime::message::Message;
use crate::runtime::monitor;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;

/// What `run` checks before it creates the container, so that a failure
/// leaves nothing behind: `/dev/net/tun` usable for a private network
/// (its error names the mode and the fix), and the fixed host ports of
/// `-p` free (Docker's "address already in use"). The monitor binds the
/// ports for real when it starts the container.
pub(crate) fn preflight(cfg: &NetworkConfig) -> Result<()> {
    if !cfg.mode.is_user_mode() {
        return Ok(());
    }
    drop(crate::slirp::tap::open_tun()?);
    let fixed: Vec<_> = cfg
        .publish
        .iter()
        .filter(|m| !m.is_random())
        .cloned()
        .collect();
    drop(crate::slirp::portfwd::bind_all(&fixed)?);
    Ok(())
}

/// For `--network container:X`: before berth enters a user namespace of
/// its own, it joins X's (a sibling namespace would not own X's network
/// namespace, which the new container must join). Called by the commands
/// that start containers, from the initial namespace; a no-op for other
/// modes, for real root, and once inside a namespace.
pub(crate) fn enter_userns_for(store: &Store, cfg: &NetworkConfig) -> Result<()> {
    let NetworkMode::Container(other) = &cfg.mode else {
        return Ok(());
    };
    if !crate::userns::is_initial_userns() {
        return Ok(());
    }
    let c = store.resolve_container(other)?;
    let state = store.observed_state(&c.id)?;
    if !state.status.is_running() {
        bail!("cannot join network of a non running container: {}", c.id);
    }
    crate::runtime::nsenter::Target::open(
        state.process(),
        &c.name,
        nix::sched::CloneFlags::CLONE_NEWUSER,
    )?
    .join()
    .with_context(|| format!("joining the user namespace of container {}", c.name))
}

/// [`enter_userns_for`] for the containers a command starts by name (the
/// first that shares another's network decides).
pub(crate) fn enter_userns_for_names(store: &Store, names: &[String]) -> Result<()> {
    for n in names {
        if let Ok(c) = store.resolve_container(n) {
            if matches!(c.host.network.mode, NetworkMode::Container(_)) {
                return enter_userns_for(store, &c.host.network);
            }
        }
    }
    Ok(())
}

/// `network connect [--alias A] [--ip IP] NETWORK CONTAINER`.
pub(crate) fn connect(
    store: &Store,
    container: &ContainerRecord,
    network: &str,
    aliases: &[String],
    ip: Option<Ipv4Addr>,
) -> Result<()> {
    let lock = store.lock()?;
    let net = records::resolve(store, &lock, network)?;
    let mut c = store.container(&container.id)?;
    match &c.host.network.mode {
        NetworkMode::Host => {
            bail!("container cannot be disconnected from host network or connected to host network")
        }
        NetworkMode::None => bail!(
            "container cannot be connected to multiple networks with one of the networks in \
             private (none) mode"
        ),
        NetworkMode::Container(_) => bail!(
            "container sharing network namespace with another container or host cannot be \
             connected to any other network"
        ),
        _ => {}
    }
    if c.host.network.endpoint(&net.id).is_some() {
        bail!(
            "endpoint with name {} already exists in network {}",
            c.name,
            net.name
        );
    }
    let ep = EndpointConfig {
        network: net.name.clone(),
        network_id: net.id.clone(),
        aliases: aliases.to_vec(),
        ip,
        allow_host_loopback: false,
        mac: None,
    };
    records::check_endpoint(&net, &ep)?;
    let before = c.clone();
    c.host.network.endpoints.push(ep);
    store.update_container_record(&c, &lock)?;
    drop(lock);
    if let Err(e) = ask_if_running(store, &c, Message::NetConnect(net.id.clone())) {
        let lock = store.lock()?;
        store.update_container_record(&before, &lock)?;
        return Err(e);
    }
    Ok(())
}

/// `network disconnect [-f] NETWORK CONTAINER`. With `force`, a network
/// that no longer exists is taken off the record by its name.
pub(crate) fn disconnect(
    store: &Store,
    container: &ContainerRecord,
    network: &str,
    force: bool,
) -> Result<()> {
    let lock = store.lock()?;
    let mut c = store.container(&container.id)?;
    let net = match records::resolve(store, &lock, network) {
        Ok(n) => Some(n),
        Err(_) if force => None,
        Err(e) => return Err(e),
    };
    let key = net.as_ref().map_or(network, |n| n.id.as_str());
    let Some(ep) = c.host.network.endpoint(key) else {
        if matches!(c.host.network.mode, NetworkMode::Host) {
            bail!(
                "container cannot be disconnected from host network or connected to host network"
            );
        }
        bail!(
            "container {} is not connected to network {}",
            c.id,
            net.as_ref().map_or(network, |n| n.name.as_str())
        );
    };
    let before = c.clone();
    c.host
        .network
        .endpoints
        .retain(|e| e.network_id != ep.network_id || e.network != ep.network);
    store.update_container_record(&c, &lock)?;
    drop(lock);
    if let Err(e) = ask_if_running(store, &c, Message::NetDisconnect(ep.network_id.clone())) {
        let lock = store.lock()?;
        store.update_container_record(&before, &lock)?;
        return Err(e);
    }
    Ok(())
}

/// Sends `request` to the container's monitor if the container runs (a
/// stopped one has only its record, which the next start follows).
fn ask_if_running(store: &Store, c: &ContainerRecord, request: Message) -> Result<()> {
    let state = store.observed_state(&c.id)?;
    if !matches!(
        state.status,
        crate::model::Status::Running | crate::model::Status::Paused
    ) {
        return Ok(());
    }
    let socket = monitor::socket_path(store.run_dir()?, &c.id);
    let Ok(mut stream) = UnixStream::connect(&socket) else {
        return Ok(()); // it stopped meanwhile
    };
    request
        .write_to(&mut stream)
        .with_context(|| format!("asking the monitor of container {}", c.id))?;
    // The attach socket: the container's output may come first.
    loop {
        match Message::read_from(&mut stream)
            .with_context(|| format!("waiting for the monitor of container {}", c.id))?
        {
            Some(Message::Done) => return Ok(()),
            Some(Message::Refused(why)) => bail!(why),
            Some(_) => continue,
            None => return Ok(()),
        }
    }
}
