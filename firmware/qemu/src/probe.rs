//! How deep the node's own polls go on the stack, apart from the scripted
//! gateway's and the simulator's, which share the stack with it.
//!
//! Before each poll of the node's future, [`StackProbe`] paints the
//! [`PROBE_SPAN`] bytes below the stack pointer with cortex-m-rt's paint
//! word; after it, the lowest word that no longer holds it is as deep as
//! that poll went. The deepest of all polls is kept in [`NODE_STACK`].
//! Painting wipes what the other tasks left there, so the probe first notes
//! the lowest word any of them touched in [`LOWEST_TOUCHED`], for the whole
//! run's high-water mark.

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};

/// Bytes painted below the probe's stack pointer: far more than a poll of
/// the node needs (3,160 bytes; 18,000 before its state was built in
/// place), far less than the 211 KB stack.
const PROBE_SPAN: usize = 32 * 1024;

/// Bytes just below the stack pointer left unpainted: `paint`'s own frame
/// lives there while it runs.
const PROBE_GAP: usize = 256;

/// The deepest any poll of the node went, bytes below the probe's frame.
pub static NODE_STACK: AtomicUsize = AtomicUsize::new(0);

/// The lowest stack address found touched before the probe painted over it.
pub static LOWEST_TOUCHED: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Polls `F` and measures how deep each poll went.
pub struct StackProbe<F>(pub F);

impl<F: Future + Unpin> Future for StackProbe<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let top = cortex_m::register::msp::read() as usize;
        let bottom = top - PROBE_SPAN;
        LOWEST_TOUCHED.fetch_min(lowest_touched(bottom, top), Ordering::Relaxed);
        paint(bottom, top - PROBE_GAP);
        let poll = poll_below(&mut self.0, cx);
        let deepest = top - lowest_touched(bottom, top);
        NODE_STACK.fetch_max(deepest, Ordering::Relaxed);
        poll
    }
}

/// Polls `future` in a frame of its own, below the probe's: inlined into
/// the probe's caller, the poll's own frame would be reserved above the
/// point the probe measures from (a 16,128-byte frame went unseen so).
#[inline(never)]
fn poll_below<F: Future + Unpin>(future: &mut F, cx: &mut Context<'_>) -> Poll<F::Output> {
    Pin::new(future).poll(cx)
}

/// Fills `bottom..end` with the paint word.
#[inline(never)]
fn paint(bottom: usize, end: usize) {
    let mut word = bottom & !3;
    while word < end {
        // SAFETY: `bottom..end` lies below the caller's stack pointer and
        // above `PROBE_GAP` bytes kept for this function's own frame, inside
        // the 211 KB stack region: nothing live is there on this single
        // core. An interrupt taken meanwhile pushes its frame below the
        // stack pointer and is done with it before this loop goes on.
        unsafe { core::ptr::write_volatile(word as *mut u32, cortex_m_rt::STACK_PAINT_VALUE) };
        word += 4;
    }
}

/// The lowest word in `bottom..top` that no longer holds the paint word.
fn lowest_touched(bottom: usize, top: usize) -> usize {
    let mut word = bottom & !3;
    while word < top {
        // SAFETY: as in `paint`: stack memory at or below the caller's frame.
        let value = unsafe { core::ptr::read_volatile(word as *const u32) };
        if value != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        word += 4;
    }
    word
}
