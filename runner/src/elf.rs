//! Whether a file can run on this machine: executable, and when it is an ELF
//! binary, built for this machine's architecture (a `sam build` for arm64 makes
//! `bootstrap`s an x86-64 machine cannot run, and the kernel's own complaint,
//! "Exec format error", does not say why).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// ELF machine numbers of the architectures Lambda offers, and two more a
/// developer may meet.
const MACHINES: &[(u16, &str)] = &[
    (62, "x86_64"),
    (183, "arm64 (aarch64)"),
    (3, "x86 (32-bit)"),
    (40, "arm (32-bit)"),
];

/// Whether `path` is a file someone may execute.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The ELF machine number of `path`, or `None` when it is not an ELF file (a
/// script, say).
pub fn machine(path: &Path) -> std::io::Result<Option<u16>> {
    let mut header = [0u8; 20];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..])? {
            0 => break,
            n => read += n,
        }
    }
    if read < header.len() || &header[..4] != b"\x7fELF" {
        return Ok(None);
    }
    let bytes = [header[18], header[19]];
    // EI_DATA: 1 little-endian, 2 big-endian.
    Ok(Some(if header[5] == 2 {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }))
}

/// This machine's ELF machine number, when it is one Lambda offers.
fn host_machine() -> Option<u16> {
    match std::env::consts::ARCH {
        "x86_64" => Some(62),
        "aarch64" => Some(183),
        _ => None,
    }
}

fn describe(machine: u16) -> String {
    MACHINES.iter().find(|(m, _)| *m == machine).map_or_else(
        || format!("ELF machine {machine}"),
        |(_, name)| (*name).to_owned(),
    )
}

/// Fine when `path` is executable and, if it is an ELF binary, built for this
/// machine; else what is wrong, in words.
pub fn check_runs_here(path: &Path) -> Result<(), String> {
    if !is_executable(path) {
        return Err(format!(
            "{} is not executable (chmod +x it)",
            path.display()
        ));
    }
    let found = machine(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match (found, host_machine()) {
        (Some(built), Some(host)) if built != host => Err(format!(
            "{} is built for {}, and this machine is {}: build it for this machine (`Architectures: \
             [{}]` for `sam build`, or `cargo lambda build --{}`), or leave out --build-dir to run \
             the cargo binaries",
            path.display(),
            describe(built),
            describe(host),
            if host == 62 { "x86_64" } else { "arm64" },
            if host == 62 { "x86-64" } else { "arm64" },
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(name: &str, bytes: &[u8], mode: u32) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("elf-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn elf_header(machine: u16, big_endian: bool) -> Vec<u8> {
        let mut header = b"\x7fELF".to_vec();
        header.extend([2, if big_endian { 2 } else { 1 }, 1]);
        header.resize(18, 0);
        if big_endian {
            header.extend(machine.to_be_bytes());
        } else {
            header.extend(machine.to_le_bytes());
        }
        header.resize(64, 0);
        header
    }

    #[test]
    fn the_machine_is_read_from_the_header_in_either_byte_order() {
        let little = file_with("le", &elf_header(183, false), 0o755);
        let big = file_with("be", &elf_header(62, true), 0o755);
        let script = file_with("sh", b"#!/bin/sh\nexit 0\n", 0o755);
        let short = file_with("short", b"\x7fELF", 0o755);
        assert_eq!(machine(&little).unwrap(), Some(183));
        assert_eq!(machine(&big).unwrap(), Some(62));
        assert_eq!(machine(&script).unwrap(), None);
        assert_eq!(machine(&short).unwrap(), None);
        for path in [little, big, script, short] {
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn a_binary_for_another_machine_is_refused_with_both_names() {
        let host = host_machine().expect("tests run on x86_64 or aarch64");
        let other = if host == 62 { 183 } else { 62 };
        let foreign = file_with("foreign", &elf_header(other, false), 0o755);
        let native = file_with("native", &elf_header(host, false), 0o755);
        let why = check_runs_here(&foreign).unwrap_err();
        assert!(why.contains(&describe(other)), "{why}");
        assert!(
            why.contains(&format!("this machine is {}", describe(host))),
            "{why}"
        );
        assert!(check_runs_here(&native).is_ok());
        // The runner's own executable runs here, of course.
        assert!(check_runs_here(&std::env::current_exe().unwrap()).is_ok());
        for path in [foreign, native] {
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn a_file_nobody_may_execute_is_refused() {
        let plain = file_with("plain", b"#!/bin/sh\n", 0o644);
        assert!(
            check_runs_here(&plain)
                .unwrap_err()
                .contains("not executable")
        );
        std::fs::remove_file(plain).unwrap();
    }
}
