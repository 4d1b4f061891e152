//! The attach protocol between a container's monitor and its clients
//! (`run` in the foreground, `start -a`, `attach`), over the monitor's unix
//! socket. Every message is a frame: one kind byte, a big-endian u32
//! length, the payload. Frames keep stdout and stderr apart and carry the
//! exit status, so a client needs no other channel.

use std::io::{self, Read, Write};

/// Frame kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// client → monitor: bytes for the container's stdin.
    Stdin = 0,
    /// monitor → client: container output.
    Stdout = 1,
    Stderr = 2,
    /// monitor → client: the container exited; payload is the i32 status.
    Exit = 3,
    /// monitor → client: the container could not be started; payload is the message.
    Error = 4,
    /// client → monitor: close the container's stdin.
    StdinEof = 5,
    /// client → monitor: terminal size, rows and columns as u16 each.
    Resize = 6,
    /// client → monitor: the client is ready; a monitor waiting for its
    /// first client starts the container now, so no output is missed.
    Ready = 7,
    /// monitor → client: the container runs; payload is its init's i32 pid
    /// (where forwarded signals go).
    Started = 8,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Stdin,
            1 => Kind::Stdout,
            2 => Kind::Stderr,
            3 => Kind::Exit,
            4 => Kind::Error,
            5 => Kind::StdinEof,
            6 => Kind::Resize,
            7 => Kind::Ready,
            8 => Kind::Started,
            _ => return None,
        })
    }
}

/// Largest payload accepted: bigger frames mean a confused peer.
const MAX_PAYLOAD: u32 = 1 << 20;

/// Writes one frame with a single write, so frames from one writer never
/// interleave on a stream socket.
pub fn write_frame(w: &mut impl Write, kind: Kind, payload: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.push(kind as u8);
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf)
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..])?;
    let kind = Kind::from_u8(head[0]).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown attach frame kind {}", head[0]),
        )
    })?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len > MAX_PAYLOAD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "attach frame too large",
        ));
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    Ok(Some((kind, payload)))
}

/// Incremental decoder for a non-blocking reader: feed bytes, take frames.
#[derive(Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> io::Result<Option<(Kind, Vec<u8>)>> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        if len > MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "attach frame too large",
            ));
        }
        if self.buf.len() < 5 + len as usize {
            return Ok(None);
        }
        let frame: Vec<u8> = self.buf.drain(..5 + len as usize).collect();
        let kind = Kind::from_u8(frame[0]).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown attach frame kind {}", frame[0]),
            )
        })?;
        Ok(Some((kind, frame[5..].to_vec())))
    }
}

/// Parses `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) into bytes.
pub fn parse_detach_keys(spec: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b] if b.is_ascii_lowercase() => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => anyhow::bail!(
                    "invalid detach key {k:?}: use ctrl-<a-z|@|[|\\|]|^|_> or a single character"
                ),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            anyhow::bail!(
                "invalid detach key {k:?}: use ctrl-<a-z|@|[|\\|]|^|_> or a single character"
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_whole_and_in_pieces() {
        let mut wire = Vec::new();
        write_frame(&mut wire, Kind::Stdout, b"hello").unwrap();
        write_frame(&mut wire, Kind::Exit, &3i32.to_be_bytes()).unwrap();
        let mut r = &wire[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((Kind::Stdout, b"hello".to_vec()))
        );
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((Kind::Exit, 3i32.to_be_bytes().to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut d = Decoder::default();
        for b in &wire {
            d.feed(&[*b]);
        }
        assert_eq!(
            d.next_frame().unwrap(),
            Some((Kind::Stdout, b"hello".to_vec()))
        );
        assert_eq!(d.next_frame().unwrap().unwrap().0, Kind::Exit);
        assert_eq!(d.next_frame().unwrap(), None);
    }

    #[test]
    fn bad_frames_are_errors() {
        assert!(read_frame(&mut &[9u8, 0, 0, 0, 0][..]).is_err());
        assert!(read_frame(&mut &[1u8, 0xff, 0, 0, 0][..]).is_err());
    }

    #[test]
    fn detach_keys() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), vec![16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-@").unwrap(), vec![b'a', 0]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("esc").is_err());
    }
}
