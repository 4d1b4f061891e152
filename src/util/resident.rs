//! Keeping long-lived processes small: a container's monitor and a
//! network's helper drop the code pages they needed only to start.

/// Drops the pages of our executable and libraries from our resident
/// set. A container's monitor or a network's helper lives long, but after
/// start-up it runs only its event loop: the pages of everything else (argument
/// parsing, the store, the launch path), and those mapped around them by
/// fault-around, would stay counted against it. Only read-only file
/// mappings that hold no private (relocated) page are touched: their
/// content is the file's, so what the loop needs comes back from the page
/// cache on first use. MADV_RANDOM then stops fault-around from mapping
/// neighbours of each page the loop touches.
pub(crate) fn trim_code() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize, bool)> = None;
    let mut candidates = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let eligible = !perms.contains('w') && path.starts_with('/');
            current = match (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            ) {
                (Ok(s), Ok(e)) => Some((s, e, eligible)),
                _ => None,
            };
        } else if first == "Anonymous:" {
            if let Some((start, end, true)) = current {
                if fields.next() == Some("0") {
                    candidates.push((start, end));
                }
            }
        }
    }
    for (start, end) in candidates {
        // SAFETY: each range is a read-only file mapping of ours without
        // private pages; dropping its pages loses nothing, and MADV_RANDOM
        // only changes read-ahead.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
        }
    }
}
