//! The messages berth's processes send each other, as one type: the
//! container's init (or an exec'd process) reporting why it could not
//! start, the monitor reporting to the command that spawned it, and the
//! attach socket between the monitor and its clients (`run` in the
//! foreground, `start -a`, `attach`, `pause`). youki's `enum Message` is
//! the model.
//!
//! On the wire each message is a frame: one kind byte, a big-endian u32
//! length, the payload. Frames keep stdout and stderr apart and carry the
//! exit status, so a client needs no other channel; a frame is written
//! with one write, so frames from one writer never interleave.

use crate::model::StartFailure;
use std::io::{self, Read, Write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// client → monitor: bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// monitor → client: container output.
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// monitor → client: the container exited with this status.
    Exited(i32),
    /// init → parent, monitor → spawner or client: the container (or an
    /// exec'd process) could not be started.
    Failed(StartFailure),
    /// client → monitor: close the container's stdin.
    StdinEof,
    /// client → monitor: the terminal's size.
    Resize {
        rows: u16,
        cols: u16,
    },
    /// monitor → spawner or client: the container runs; its init's pid
    /// (where forwarded signals go).
    Started(i32),
    /// client → monitor: freeze (`pause`) or thaw (`unpause`) the container.
    Pause,
    Unpause,
    /// monitor → client: the request was done.
    Done,
    /// monitor → client: the request was refused, and why.
    Refused(String),
    /// init → monitor → spawner or client: `BERTH_TRACE` lines of a
    /// process without a terminal, for the CLI to print.
    Trace(String),
    /// client → monitor: new limits for the running container (`update`),
    /// as JSON; answered `Done` or `Refused`.
    Update(String),
    /// client → monitor: the container's counters (`stats`).
    StatsRequest,
    /// monitor → client: the counters, as JSON (`resources::stats::Sample`).
    Stats(String),
    /// client → monitor: join the running container to the network with
    /// this id (`network connect`; the record already names it).
    NetConnect(String),
    /// client → monitor: take the container off the network with this id.
    NetDisconnect(String),
}

/// Largest payload accepted: bigger frames mean a confused peer.
const MAX_PAYLOAD: u32 = 1 << 20;
const HEADER: usize = 5;

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Message {
    fn kind(&self) -> u8 {
        match self {
            Message::Stdin(_) => 0,
            Message::Stdout(_) => 1,
            Message::Stderr(_) => 2,
            Message::Exited(_) => 3,
            Message::Failed(_) => 4,
            Message::StdinEof => 5,
            Message::Resize { .. } => 6,
            Message::Started(_) => 8,
            Message::Pause => 9,
            Message::Unpause => 10,
            Message::Done => 11,
            Message::Refused(_) => 12,
            // 7 and 13 were `Ready` and `Listening`, from when an
            // attached monitor waited for its client to connect.
            Message::Trace(_) => 14,
            // Kinds from 40: requests of resource limits and stats.
            Message::Update(_) => 40,
            Message::StatsRequest => 41,
            Message::Stats(_) => 42,
            Message::NetConnect(_) => 43,
            Message::NetDisconnect(_) => 44,
        }
    }

    /// The frame for this message.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let payload: &[u8] = match self {
            Message::Stdin(d) | Message::Stdout(d) | Message::Stderr(d) => d,
            Message::Refused(text)
            | Message::Trace(text)
            | Message::Update(text)
            | Message::Stats(text)
            | Message::NetConnect(text)
            | Message::NetDisconnect(text) => text.as_bytes(),
            _ => &[],
        };
        let mut buf = Vec::with_capacity(HEADER + 8 + payload.len());
        buf.push(self.kind());
        buf.extend_from_slice(&[0; 4]);
        match self {
            Message::Exited(n) | Message::Started(n) => buf.extend_from_slice(&n.to_be_bytes()),
            Message::Failed(f) => {
                buf.extend_from_slice(&f.code.to_be_bytes());
                buf.extend_from_slice(f.message.as_bytes());
            }
            Message::Resize { rows, cols } => {
                buf.extend_from_slice(&rows.to_be_bytes());
                buf.extend_from_slice(&cols.to_be_bytes());
            }
            _ => buf.extend_from_slice(payload),
        }
        let len = (buf.len() - HEADER) as u32;
        buf[1..HEADER].copy_from_slice(&len.to_be_bytes());
        buf
    }

    /// Writes the frame with a single write.
    pub(crate) fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(&self.encode())
    }

    fn decode(kind: u8, p: Vec<u8>) -> io::Result<Message> {
        let int = |p: &[u8]| -> io::Result<i32> {
            match p {
                [a, b, c, d] => Ok(i32::from_be_bytes([*a, *b, *c, *d])),
                _ => Err(invalid(format!("message {kind}: expected 4 bytes"))),
            }
        };
        Ok(match kind {
            0 => Message::Stdin(p),
            1 => Message::Stdout(p),
            2 => Message::Stderr(p),
            3 => Message::Exited(int(&p)?),
            4 if p.len() >= 4 => Message::Failed(StartFailure {
                code: int(&p[..4])?,
                message: String::from_utf8_lossy(&p[4..]).into_owned(),
            }),
            5 => Message::StdinEof,
            6 if p.len() == 4 => Message::Resize {
                rows: u16::from_be_bytes([p[0], p[1]]),
                cols: u16::from_be_bytes([p[2], p[3]]),
            },
            8 => Message::Started(int(&p)?),
            9 => Message::Pause,
            10 => Message::Unpause,
            11 => Message::Done,
            12 => Message::Refused(String::from_utf8_lossy(&p).into_owned()),
            14 => Message::Trace(String::from_utf8_lossy(&p).into_owned()),
            40 => Message::Update(String::from_utf8_lossy(&p).into_owned()),
            41 => Message::StatsRequest,
            42 => Message::Stats(String::from_utf8_lossy(&p).into_owned()),
            43 => Message::NetConnect(String::from_utf8_lossy(&p).into_owned()),
            44 => Message::NetDisconnect(String::from_utf8_lossy(&p).into_owned()),
            _ => return Err(invalid(format!("unknown message kind {kind}"))),
        })
    }

    /// Reads one message; `Ok(None)` at a clean end of stream.
    pub(crate) fn read_from(r: &mut impl Read) -> io::Result<Option<Message>> {
        let mut head = [0u8; HEADER];
        match r.read_exact(&mut head[..1]) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        r.read_exact(&mut head[1..])?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_PAYLOAD {
            return Err(invalid("message too large".into()));
        }
        let mut payload = vec![0u8; len as usize];
        r.read_exact(&mut payload)?;
        Message::decode(head[0], payload).map(Some)
    }
}

/// Reads what a child reported on its close-on-exec pipe until the pipe
/// closes: `None` when it wrote nothing (its exec happened), else why it
/// failed.
pub(crate) fn read_start_report(pipe: std::os::fd::OwnedFd) -> Option<StartFailure> {
    let mut data = Vec::new();
    let _ = std::fs::File::from(pipe).read_to_end(&mut data);
    let mut rest = &data[..];
    loop {
        match Message::read_from(&mut rest) {
            Ok(None) => return None,
            // `BERTH_TRACE` lines of the child come before its report.
            Ok(Some(Message::Trace(lines))) => crate::util::trace::relay(&lines),
            Ok(Some(Message::Failed(f))) => return Some(f),
            other => {
                return Some(StartFailure::setup(anyhow::anyhow!(
                    "the container's process sent a report berth cannot read: {other:?}"
                )))
            }
        }
    }
}

/// Incremental decoder for a non-blocking reader: feed bytes, take messages.
#[derive(Default)]
pub(crate) struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete message, if one has arrived.
    pub(crate) fn next_message(&mut self) -> io::Result<Option<Message>> {
        if self.buf.len() < HEADER {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        if len > MAX_PAYLOAD {
            return Err(invalid("message too large".into()));
        }
        let end = HEADER + len as usize;
        if self.buf.len() < end {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[HEADER..end].to_vec();
        self.buf.drain(..end);
        Message::decode(kind, payload).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Message> {
        vec![
            Message::Stdin(b"in".to_vec()),
            Message::Stdout(b"hello".to_vec()),
            Message::Stderr(vec![]),
            Message::Exited(-1),
            Message::Failed(StartFailure {
                code: 127,
                message: "exec: \"x\": executable file not found in $PATH".into(),
            }),
            Message::StdinEof,
            Message::Resize { rows: 24, cols: 80 },
            Message::Started(42),
            Message::Pause,
            Message::Unpause,
            Message::Done,
            Message::Refused("no".into()),
            Message::Trace("berth-trace 1.000 ms  init  exec".into()),
            Message::Update(r#"{"resources":{"memory":1}}"#.into()),
            Message::StatsRequest,
            Message::Stats("{}".into()),
            Message::NetConnect("ab12".into()),
            Message::NetDisconnect("cd34".into()),
        ]
    }

    #[test]
    fn messages_round_trip_whole_and_in_pieces() {
        let mut wire = Vec::new();
        for m in all() {
            m.write_to(&mut wire).unwrap();
        }
        let mut r = &wire[..];
        for m in all() {
            assert_eq!(Message::read_from(&mut r).unwrap(), Some(m));
        }
        assert_eq!(Message::read_from(&mut r).unwrap(), None);
        let mut d = Decoder::default();
        for b in &wire {
            d.feed(&[*b]);
        }
        for m in all() {
            assert_eq!(d.next_message().unwrap(), Some(m));
        }
        assert_eq!(d.next_message().unwrap(), None);
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(Message::read_from(&mut &[99u8, 0, 0, 0, 0][..]).is_err());
        assert!(Message::read_from(&mut &[1u8, 0xff, 0, 0, 0][..]).is_err());
        assert!(Message::read_from(&mut &[3u8, 0, 0, 0, 1, 7][..]).is_err());
    }

    #[test]
    fn start_reports() {
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        assert_eq!(read_start_report(r), None);
        let (r, w) = nix::unistd::pipe().unwrap();
        Message::Trace("x".into())
            .write_to(&mut std::fs::File::from(w))
            .unwrap();
        assert_eq!(
            read_start_report(r),
            None,
            "trace lines alone are a success"
        );
        let (r, w) = nix::unistd::pipe().unwrap();
        let f = StartFailure {
            code: 126,
            message: "exec: \"/x\": permission denied".into(),
        };
        Message::Failed(f.clone())
            .write_to(&mut std::fs::File::from(w))
            .unwrap();
        assert_eq!(read_start_report(r), Some(f));
    }
}
