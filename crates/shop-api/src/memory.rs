//! How a function's process holds memory. It serves one invocation at a time,
//! so it needs little; its one large allocation is Argon2's block (19 MiB per
//! hash), which glibc's malloc would keep. Once a mapped block that large is
//! freed, glibc raises its mmap threshold to that size, so the next blocks
//! come from the heap and stay there after use, one per thread's arena: a
//! login function measured 11.6 MB after its first login and 128 MB after 30
//! more.

/// Fixes glibc's mmap threshold at its default, 128 KiB (setting it turns its
/// raising off): every allocation that large is mapped on its own and given
/// back to the system when freed. Call it once, first thing in `main`.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` only tunes the allocator, under glibc's own lock, and
    // is given a parameter and a value it takes.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
