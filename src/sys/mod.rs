//! What berth's three jobs share with the kernel: the signal mask and the
//! signalfd (every command blocks signals before it starts a thread), and
//! starting threads in a way that keeps that mask intact; and descriptors
//! 0-2, which must be open before berth opens anything.

pub mod signals;
pub mod stdio;
pub mod thread;
