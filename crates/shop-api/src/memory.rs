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

/// The memory of one Argon2 hash: a mapping of its own, unmapped when dropped,
/// so the instance gives the hash's 19 MiB back after every hash (as
/// [`return_large_blocks`] makes glibc do for `argon2`'s own blocks). It is
/// mapped with transparent huge pages asked for, over whole huge pages:
/// filling 19 MiB of fresh memory then costs about ten page faults instead of
/// nearly 5,000, which measured as about 14 ms of CPU per login. Where the
/// kernel offers no huge pages the advice is ignored and the memory is
/// ordinary.
pub struct HashMemory {
    #[cfg(target_os = "linux")]
    mapping: Mapping,
    #[cfg(not(target_os = "linux"))]
    blocks: Vec<argon2::Block>,
}

/// Huge pages are this large and this aligned (x86-64 and arm64 with 4 KiB pages).
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// An anonymous private mapping, and the aligned blocks inside it.
#[cfg(target_os = "linux")]
struct Mapping {
    start: *mut libc::c_void,
    len: usize,
    blocks: *mut argon2::Block,
    count: usize,
}

impl HashMemory {
    /// `count` blocks, all zero; `None` when their size does not fit a slice
    /// or the system has no memory to map.
    pub fn new(count: usize) -> Option<Self> {
        #[cfg(target_os = "linux")]
        {
            let bytes = count.checked_mul(size_of::<argon2::Block>())?;
            if isize::try_from(bytes).is_err() {
                return None;
            }
            // Whole huge pages (the kernel backs only those with one), and
            // one more, to start the blocks on a huge page boundary.
            let advised = bytes.checked_next_multiple_of(HUGE_PAGE)?;
            let len = advised.checked_add(HUGE_PAGE)?;
            #[allow(unsafe_code)]
            // SAFETY: a fresh anonymous private mapping: it aliases nothing, and
            // the kernel zero-fills its pages.
            let start = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if start == libc::MAP_FAILED {
                return None;
            }
            let offset = (start as usize).next_multiple_of(HUGE_PAGE) - start as usize;
            #[allow(unsafe_code)]
            // SAFETY: `offset + advised <= len`, so the pointer and the advised
            // range stay inside the mapping; huge-page advice only changes how
            // its pages are backed.
            let blocks = unsafe {
                let blocks = start.cast::<u8>().add(offset);
                libc::madvise(blocks.cast(), advised, libc::MADV_HUGEPAGE);
                blocks.cast::<argon2::Block>()
            };
            Some(Self {
                mapping: Mapping {
                    start,
                    len,
                    blocks,
                    count,
                },
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Some(Self {
                blocks: vec![argon2::Block::default(); count],
            })
        }
    }

    /// The blocks, for `Argon2::hash_password_into_with_memory`.
    pub fn blocks(&mut self) -> &mut [argon2::Block] {
        #[cfg(target_os = "linux")]
        {
            let Mapping { blocks, count, .. } = self.mapping;
            #[allow(unsafe_code)]
            // SAFETY: `count` blocks from `blocks` lie inside the mapping, which
            // lives as long as `self`; zeroed memory is a valid `Block` (a plain
            // array of integers) and 4 KiB pages are aligned beyond its 64
            // bytes; `&mut self` makes this the only reference.
            unsafe {
                std::slice::from_raw_parts_mut(blocks, count)
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            &mut self.blocks
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Mapping {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: the mapping `mmap` gave, unmapped once; no slice of it
        // outlives `HashMemory`.
        unsafe {
            libc::munmap(self.start, self.len);
        }
    }
}
