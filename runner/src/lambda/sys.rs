//! The process controls std does not offer: so that no instance outlives the
//! runner (the kernel kills an instance whose runner is gone, even by `SIGKILL`,
//! and stopping an instance stops everything it started), and how much an
//! instance's output pipe holds unread.
//!
//! This is the crate's only `unsafe` code.
#![allow(unsafe_code)]

use tokio::process::Command;

/// Makes the process `command` starts the leader of a new process group, and (on
/// Linux) asks the kernel to `SIGKILL` it when the runner dies.
///
/// Linux sends that signal when the *thread* that started the process ends, not the
/// whole runner. Instances are started from the runtime's worker threads, which live
/// as long as the runner; they must never be started from `spawn_blocking` or
/// `block_in_place` threads, which retire when idle.
pub(crate) fn tie_to_runner(command: &mut Command) {
    command.process_group(0);
    #[cfg(target_os = "linux")]
    {
        let runner = std::process::id() as libc::pid_t;
        // SAFETY: the closure runs in the child between fork and exec, and calls only
        // async-signal-safe functions (`prctl`, `getppid`, `_exit`); it allocates
        // nothing and touches no lock.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The runner died before the request was in place: nobody will
                // ever send this process work.
                if libc::getppid() != runner {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
}

/// Sends `SIGKILL` to the process group `leader` leads (see [`tie_to_runner`]). Its
/// id cannot have been reused while the leader is unreaped or any member is alive;
/// with none left the call finds nothing, as ids are handed out in turn and come
/// round again only after the whole range (`pid_max`) is used.
pub(crate) fn kill_group(leader: u32) {
    signal_group(leader, libc::SIGKILL);
}

/// Sends `SIGTERM` to the process group `leader` leads, as [`kill_group`] does
/// `SIGKILL`.
pub(crate) fn terminate_group(leader: u32) {
    signal_group(leader, libc::SIGTERM);
}

fn signal_group(leader: u32, signal: libc::c_int) {
    let Ok(leader) = libc::pid_t::try_from(leader) else {
        return;
    };
    if leader > 0 {
        // SAFETY: `kill` takes plain integers and has no memory effects.
        unsafe {
            libc::kill(-leader, signal);
        }
    }
}

/// The size of a memory page, in bytes (4096 when it cannot tell).
pub(crate) fn page_size() -> u64 {
    // SAFETY: `sysconf` takes a plain integer and has no memory effects.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).ok().filter(|s| *s > 0).unwrap_or(4096)
}

/// The bytes waiting unread in the pipe (or socket) `fd`; 0 when it cannot
/// tell.
pub(crate) fn unread(fd: std::os::fd::RawFd) -> usize {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points at a
    // live local; a descriptor that is not open makes the call fail, nothing else.
    let status = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut waiting as *mut libc::c_int) };
    if status == 0 {
        usize::try_from(waiting).unwrap_or(0)
    } else {
        0
    }
}
