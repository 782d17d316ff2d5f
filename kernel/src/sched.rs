//! The run queue: runnable threads in round-robin order, linked through
//! their TCBs (the kernel allocates nothing for scheduling). Priorities and
//! preemption by time slice arrive with IPC; for now every runnable thread
//! gets its turn when the running one yields, blocks or faults.

use crate::object::objects::{Tcb, ThreadState};

/// A TCB in kernel memory, by address.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TcbRef(pub u64);

impl TcbRef {
    pub fn ptr(self) -> *mut Tcb {
        self.0 as *mut Tcb
    }

    /// Runs `f` on the TCB.
    ///
    /// The reference must name a live TCB: the scheduler only holds TCBs that
    /// have not been destroyed (`forget` runs before a TCB's memory can be
    /// reused), and the kernel is single-threaded.
    pub fn with<R>(self, f: impl FnOnce(&mut Tcb) -> R) -> R {
        // SAFETY: see above; no other reference to the TCB is live while `f`
        // runs.
        f(unsafe { &mut *self.ptr() })
    }
}

/// Runnable threads; `current` is the one running (not on the queue).
#[derive(Default)]
pub struct RunQueue {
    head: u64,
    tail: u64,
    pub current: Option<TcbRef>,
}

impl RunQueue {
    pub const fn new() -> Self {
        Self {
            head: 0,
            tail: 0,
            current: None,
        }
    }

    fn queued(&self, t: TcbRef) -> bool {
        t.with(|tcb| tcb.run_prev != 0 || tcb.run_next != 0) || self.head == t.0
    }

    /// Appends `t` unless it is queued or running.
    pub fn push(&mut self, t: TcbRef) {
        if self.queued(t) || self.current == Some(t) {
            return;
        }
        t.with(|tcb| {
            tcb.run_prev = self.tail;
            tcb.run_next = 0;
        });
        if self.tail != 0 {
            TcbRef(self.tail).with(|tail| tail.run_next = t.0);
        } else {
            self.head = t.0;
        }
        self.tail = t.0;
    }

    fn unlink(&mut self, t: TcbRef) {
        let (prev, next) = t.with(|tcb| (tcb.run_prev, tcb.run_next));
        if prev != 0 {
            TcbRef(prev).with(|p| p.run_next = next);
        } else {
            self.head = next;
        }
        if next != 0 {
            TcbRef(next).with(|n| n.run_prev = prev);
        } else {
            self.tail = prev;
        }
        t.with(|tcb| {
            tcb.run_prev = 0;
            tcb.run_next = 0;
        });
    }

    /// Takes `t` off the queue and, if it is running, stops it running.
    pub fn remove(&mut self, t: TcbRef) {
        if self.queued(t) {
            self.unlink(t);
        }
        if self.current == Some(t) {
            self.current = None;
        }
    }

    /// Puts the running thread (if still runnable) at the back of the queue
    /// and makes the front one current.
    pub fn rotate(&mut self) -> Option<TcbRef> {
        if let Some(cur) = self.current.take()
            && cur.with(|t| t.state) == ThreadState::Runnable
        {
            self.push(cur);
        }
        if self.head != 0 {
            let next = TcbRef(self.head);
            self.unlink(next);
            self.current = Some(next);
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcbs(n: usize) -> Vec<Tcb> {
        (0..n)
            .map(|_| {
                let mut t = Tcb::new();
                t.state = ThreadState::Runnable;
                t
            })
            .collect()
    }

    #[test]
    fn round_robin_and_removal() {
        let mut t = tcbs(3);
        let r: Vec<TcbRef> = t.iter_mut().map(|b| TcbRef(b as *mut Tcb as u64)).collect();
        let mut q = RunQueue::new();
        for &x in &r {
            q.push(x);
        }
        q.push(r[0]);
        assert_eq!(q.rotate(), Some(r[0]));
        assert_eq!(q.rotate(), Some(r[1]));
        assert_eq!(q.rotate(), Some(r[2]));
        assert_eq!(q.rotate(), Some(r[0]));
        q.remove(r[1]);
        assert_eq!(q.rotate(), Some(r[2]));
        assert_eq!(q.rotate(), Some(r[0]));
        r[2].with(|t| t.state = ThreadState::Inactive);
        q.remove(r[2]);
        assert_eq!(q.rotate(), Some(r[0]), "only one runnable thread is left");
        q.remove(r[0]);
        assert_eq!(q.rotate(), None);
    }
}
