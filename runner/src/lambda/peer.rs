//! Which process is on the other end of a loopback connection (Linux only).
//!
//! An instance's Runtime API listens on a loopback port that any local process
//! could connect to and take invocations from. The runner serves a connection only
//! when the connecting socket belongs to the instance it started: the kernel lists
//! the socket's inode in `/proc/net/tcp`, and the instance (or a process of its
//! group) holds a descriptor naming that inode, and the socket is the runner's
//! user's. Where `/proc` cannot be read on Linux, no connection is believed.

use std::net::SocketAddr;

/// Whether the TCP connection from `peer` to `local` is held by a process of the
/// process group that `leader` leads. `None` when this cannot be told here (no
/// `/proc`, as on macOS). It reads `/proc`: call it where blocking is allowed.
pub(crate) fn held_by_group(leader: u32, peer: SocketAddr, local: SocketAddr) -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    Some(linux_held_by_group(leader, peer, local).unwrap_or(false))
}

fn linux_held_by_group(leader: u32, peer: SocketAddr, local: SocketAddr) -> Option<bool> {
    let table = match peer {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let listing = std::fs::read_to_string(table).ok()?;
    let socket = socket_of(&listing, peer, local)?;
    // Another user's process is never the instance, whatever else it holds.
    if socket.uid != own_uid()? {
        return Some(false);
    }
    let name = format!("socket:[{}]", socket.inode);
    if holds(leader, &name) {
        return Some(true);
    }
    // A process the instance started (a shell script's child, say) may hold it.
    let members = std::fs::read_dir("/proc").ok()?.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        (pid != leader && group_of(pid) == Some(leader)).then_some(pid)
    });
    Some(members.into_iter().any(|pid| holds(pid, &name)))
}

/// The user this process runs as: the owner of its `/proc` entry.
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// A socket as `/proc/net/tcp{,6}` lists it.
#[derive(Debug, PartialEq)]
struct Socket {
    uid: u32,
    inode: u64,
}

/// The socket whose local end is `peer` and remote end `local`, from a
/// `/proc/net/tcp{,6}` listing.
fn socket_of(listing: &str, peer: SocketAddr, local: SocketAddr) -> Option<Socket> {
    let (from, to) = (hex_address(peer), hex_address(local));
    listing.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let matches =
            fields.get(1)?.eq_ignore_ascii_case(&from) && fields.get(2)?.eq_ignore_ascii_case(&to);
        if !matches {
            return None;
        }
        Some(Socket {
            uid: fields.get(7)?.parse().ok()?,
            inode: fields.get(9)?.parse().ok()?,
        })
    })
}

/// An address as the kernel writes it there: each 32-bit word of the address in
/// the machine's byte order, in hex, then the port.
fn hex_address(address: SocketAddr) -> String {
    let words: String = match address {
        SocketAddr::V4(v4) => format!("{:08X}", u32::from_ne_bytes(v4.ip().octets())),
        SocketAddr::V6(v6) => v6
            .ip()
            .octets()
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect(),
    };
    format!("{words}:{:04X}", address.port())
}

/// Whether process `pid` has a descriptor open on `name` (`socket:[inode]`).
fn holds(pid: u32, name: &str) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok)
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == name))
}

/// The process group of `pid`, from `/proc/<pid>/stat`.
fn group_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count from after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_connection_is_held_by_the_process_that_made_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        let local = listener.local_addr().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        // This test's own process holds both ends; it leads no group of its own, so
        // ask about the group it is in.
        let group = group_of(std::process::id()).unwrap();
        let me = std::process::id();
        assert!(holds(
            me,
            &format!(
                "socket:[{}]",
                socket_of(
                    &std::fs::read_to_string("/proc/net/tcp").unwrap(),
                    peer,
                    local
                )
                .unwrap()
                .inode
            )
        ));
        assert_eq!(held_by_group(group, peer, local), Some(true));
        // Another process, leading a group of its own, does not hold it.
        let mut other = std::process::Command::new("sleep");
        std::os::unix::process::CommandExt::process_group(&mut other, 0);
        let mut other = other.arg("30").spawn().unwrap();
        let held = held_by_group(other.id(), peer, local);
        let _ = other.kill();
        let _ = other.wait();
        assert_eq!(held, Some(false));
        // A connection nobody made has no socket.
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(held_by_group(me, nobody, local), Some(false));
    }

    #[test]
    fn addresses_are_written_as_the_kernel_writes_them() {
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let expected = if cfg!(target_endian = "little") {
            "0100007F:1F90"
        } else {
            "7F000001:1F90"
        };
        assert_eq!(hex_address(v4), expected);
    }

    #[test]
    fn a_listing_gives_the_socket_owner_and_inode() {
        let peer: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        let listing = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
             0: {} {} 01 00000000:00000000 00:00000000 00000000  1001        0 4242 1 0000000000000000 20 4 30 10 -1\n",
            hex_address(peer),
            hex_address(local)
        );
        assert_eq!(
            socket_of(&listing, peer, local),
            Some(Socket {
                uid: 1001,
                inode: 4242
            })
        );
        assert_eq!(socket_of(&listing, local, peer), None);
    }
}
