//! How the process's allocator gives memory back.

/// Makes glibc serve every allocation of 1 MiB or more with a mapping of its own, unmapped
/// when freed. glibc starts that way (from 128 KiB), but raises the threshold to the size of
/// the first such block freed; after that, argon2's 19 MiB areas and large request bodies
/// were carved from per-thread arenas, which keep freed memory for good. Setting the
/// threshold turns that adjustment off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_blocks() {
    const THRESHOLD: libc::c_int = 1 << 20;
    // SAFETY: mallopt only changes an allocator setting. glibc documents it as unsafe to call
    // while other threads allocate; main calls it before starting any.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
    }
}

/// Other allocators give large blocks back on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_blocks() {}
