//! argon2's working memory (7 MiB per hash with the current parameters), kept for the next
//! hash while logins keep coming and given back to the system once they stop.
//!
//! A fresh area for every hash costs a page fault per 4 KiB page it touches, several
//! milliseconds a login on a virtual machine. Leaving the areas to the allocator was worse:
//! glibc kept each freed area in the arena of the thread that freed it, for good, and the
//! blocking pool's threads come and go, so a burst of logins left hundreds of MiB behind.
//! Here at most one area per hashing permit exists (an area of another size is freed before
//! a new one is made), and none outlives [`IDLE`] unused (freed areas go back to the system:
//! see `crate::memory`). So hashing holds at most permits × the largest hash's memory.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::Block;

/// How long an unused area is kept for the next hash.
pub const IDLE: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct HashMemory {
    idle: Mutex<Vec<Area>>,
}

struct Area {
    blocks: Vec<Block>,
    since: Instant,
}

impl HashMemory {
    /// An area of `blocks` blocks: a kept one of that size, or a new one, made after freeing
    /// one kept area of another size (so that the areas never outnumber the permits). argon2
    /// writes every block before reading it, so what an earlier hash left there does not
    /// matter.
    pub fn take(&self, blocks: usize) -> Vec<Block> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = idle.iter().position(|area| area.blocks.len() == blocks) {
            return idle.swap_remove(i).blocks;
        }
        let other = idle.pop();
        drop(idle);
        drop(other);
        vec![Block::new(); blocks]
    }

    /// Keeps `blocks` for the next hash.
    pub fn give_back(&self, blocks: Vec<Block>) {
        let area = Area {
            blocks,
            since: Instant::now(),
        };
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(area);
    }

    /// Frees the areas unused for `idle` or longer ([`IDLE`] in service).
    pub fn trim(&self, idle: Duration) {
        let expired: Vec<Area> = {
            let mut areas = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let (expired, kept) = areas
                .drain(..)
                .partition(|area| area.since.elapsed() >= idle);
            *areas = kept;
            expired
        };
        // Freed outside the lock: unmapping megabytes is not instant.
        drop(expired);
    }

    /// Areas kept right now.
    #[cfg(test)]
    pub fn kept(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_an_area_of_the_same_size_and_frees_one_of_another() {
        let memory = HashMemory::default();
        let area = memory.take(8);
        assert_eq!(area.len(), 8);
        let address = area.as_ptr();
        memory.give_back(area);
        assert_eq!(memory.kept(), 1);
        let again = memory.take(8);
        assert_eq!(again.as_ptr(), address);
        assert_eq!(memory.kept(), 0);
        memory.give_back(again);
        // Another size gets a new area, and the kept one of the old size goes: never more
        // areas than hashes at once.
        let other = memory.take(16);
        assert_eq!((other.len(), memory.kept()), (16, 0));
        memory.give_back(other);
        // Kept while recently used, freed once unused for long enough.
        memory.trim(IDLE);
        assert_eq!(memory.kept(), 1);
        memory.trim(Duration::ZERO);
        assert_eq!(memory.kept(), 0);
    }
}
