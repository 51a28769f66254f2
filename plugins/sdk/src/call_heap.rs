//! The plugin's memory allocator: a bump allocator over one call's heap.
//!
//! Invariant: a plugin instance serves exactly one call and the host throws its whole linear
//! memory away afterwards. So nothing needs freeing: allocating moves a pointer, freeing
//! gives back only the most recent block (the common push-then-pop and grow-in-place
//! patterns), and the host's per-call memory limit bounds what a call can take in all.
//!
//! The first [`ARENA_BYTES`] come from a zero-initialised static, which lies in the module's
//! initial memory: a call that stays inside it never grows memory, and the host resets only
//! the pages the call touched. Beyond it, memory is grown in whole chunks. Pages obtained
//! by `memory.grow` belong to whoever grew them, so this never hands out memory that another
//! allocator in the module (the C library's, if it is ever linked in) could also use.
//!
//! A plugin that defines its own `#[global_allocator]` gets a compile error: this one is
//! part of the SDK's contract with the host.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::{Cell, UnsafeCell};
use core::ptr;

/// Bytes of heap in the module's initial memory, sized for a call that renders one fragment
/// or lists a catalogue. A call that needs more grows memory past it.
pub const ARENA_BYTES: usize = 256 << 10;

const WASM_PAGE: usize = 64 << 10;

/// Pages grown at least at once past the arena, so small allocations do not grow one by one.
const MIN_GROW_PAGES: usize = 4;

#[repr(C, align(16))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

/// The current chunk: `[next, end)` is free. `end == 0` until the first allocation.
struct Bump {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: a plugin instance runs on one thread (wasm32 without the threads proposal).
unsafe impl Sync for Arena {}
unsafe impl Sync for Bump {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));

#[global_allocator]
static HEAP: Bump = Bump { next: Cell::new(0), end: Cell::new(0) };

impl Bump {
    /// `(next, end)` of the current chunk, starting with the arena on first use.
    fn bounds(&self) -> (usize, usize) {
        if self.end.get() == 0 {
            let start = ARENA.0.get() as usize;
            self.next.set(start);
            self.end.set(start + ARENA_BYTES);
        }
        (self.next.get(), self.end.get())
    }

    /// Starts a new chunk of at least `size` bytes from `memory.grow`; false if the host
    /// refuses (the memory limit), which the caller reports as a null allocation.
    fn grow(&self, size: usize, align: usize) -> bool {
        let (_, end) = self.bounds();
        let pages = size.saturating_add(align).div_ceil(WASM_PAGE).max(MIN_GROW_PAGES);
        let old_pages = wasm32::memory_grow(0, pages);
        if old_pages == usize::MAX {
            return false;
        }
        let start = old_pages * WASM_PAGE;
        // A chunk that continues the current one extends it; otherwise the rest is dropped.
        if start != end {
            self.next.set(start);
        }
        self.end.set(start + pages * WASM_PAGE);
        true
    }
}

fn align_up(addr: usize, align: usize) -> Option<usize> {
    addr.checked_add(align - 1).map(|a| a & !(align - 1))
}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // At most one growth: a fresh chunk always fits the request.
        for _ in 0..2 {
            let (next, end) = self.bounds();
            if let Some(start) = align_up(next, layout.align())
                && let Some(stop) = start.checked_add(layout.size())
                && stop <= end
            {
                self.next.set(stop);
                return start as *mut u8;
            }
            if !self.grow(layout.size(), layout.align()) {
                break;
            }
        }
        ptr::null_mut()
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if block as usize + layout.size() == self.next.get() {
            self.next.set(block as usize);
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (next, end) = self.bounds();
        let start = block as usize;
        // The most recent block grows or shrinks where it is when the chunk has room.
        if start + layout.size() == next
            && let Some(stop) = start.checked_add(new_size)
            && stop <= end
        {
            self.next.set(stop);
            return block;
        }
        if new_size <= layout.size() {
            return block;
        }
        // SAFETY: `layout.align()` is a valid alignment and `new_size` is non-zero (it is
        // larger than the old size), as `GlobalAlloc::realloc` requires of its caller.
        let moved = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct, and at least `layout.size()` long.
            unsafe { ptr::copy_nonoverlapping(block, moved, layout.size()) };
        }
        moved
    }
}
