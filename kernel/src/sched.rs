//! Thread queues and the scheduler.
//!
//! Threads are linked through their TCBs (the kernel allocates nothing for
//! scheduling): [`Queue`] is the one doubly linked list used for the run
//! queues and for the threads waiting on an endpoint or notification. The
//! scheduler keeps one queue per priority (0-255, higher runs first) and a
//! bitmap of the non-empty ones, so choosing the next thread is a few
//! instructions; within a priority, threads take turns (round robin).

use crate::object::objref::TcbRef;
use crate::object::tcb::{Links, ThreadState};

/// Which links of a TCB a queue uses.
#[derive(Clone, Copy)]
pub enum LinkKind {
    Run,
    Wait,
    Sleep,
}

fn links(t: TcbRef, kind: LinkKind) -> Links {
    t.with(|tcb| match kind {
        LinkKind::Run => tcb.run,
        LinkKind::Wait => tcb.wait,
        LinkKind::Sleep => tcb.sleep,
    })
}

fn set_links(t: TcbRef, kind: LinkKind, l: Links) {
    t.with(|tcb| match kind {
        LinkKind::Run => tcb.run = l,
        LinkKind::Wait => tcb.wait = l,
        LinkKind::Sleep => tcb.sleep = l,
    })
}

/// A FIFO of threads, linked through `kind` links. Its head and tail can
/// live anywhere (in a kernel object, in the scheduler).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Queue {
    pub head: Option<TcbRef>,
    pub tail: Option<TcbRef>,
}

impl Queue {
    pub const EMPTY: Queue = Queue {
        head: None,
        tail: None,
    };

    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub fn push_back(&mut self, t: TcbRef, kind: LinkKind) {
        set_links(
            t,
            kind,
            Links {
                next: None,
                prev: self.tail,
            },
        );
        match self.tail {
            Some(tail) => {
                let mut l = links(tail, kind);
                l.next = Some(t);
                set_links(tail, kind, l);
            }
            None => self.head = Some(t),
        }
        self.tail = Some(t);
    }

    pub fn pop_front(&mut self, kind: LinkKind) -> Option<TcbRef> {
        let head = self.head?;
        self.remove(head, kind);
        Some(head)
    }

    /// Inserts `t` before the first thread for which `after(t, that)` is
    /// false, keeping the queue sorted by whatever `after` compares.
    pub fn insert_sorted(
        &mut self,
        t: TcbRef,
        kind: LinkKind,
        after: impl Fn(TcbRef, TcbRef) -> bool,
    ) {
        let mut at = self.head;
        while let Some(that) = at
            && after(t, that)
        {
            at = links(that, kind).next;
        }
        let Some(next) = at else {
            self.push_back(t, kind);
            return;
        };
        let prev = links(next, kind).prev;
        set_links(t, kind, Links { next: at, prev });
        let mut n = links(next, kind);
        n.prev = Some(t);
        set_links(next, kind, n);
        match prev {
            None => self.head = Some(t),
            Some(prev) => {
                let mut p = links(prev, kind);
                p.next = Some(t);
                set_links(prev, kind, p);
            }
        }
    }

    /// Removes `t`, which must be on this queue.
    pub fn remove(&mut self, t: TcbRef, kind: LinkKind) {
        let l = links(t, kind);
        match l.prev {
            Some(prev) => {
                let mut p = links(prev, kind);
                p.next = l.next;
                set_links(prev, kind, p);
            }
            None => self.head = l.next,
        }
        match l.next {
            Some(next) => {
                let mut n = links(next, kind);
                n.prev = l.prev;
                set_links(next, kind, n);
            }
            None => self.tail = l.prev,
        }
        set_links(t, kind, Links::NONE);
    }

    /// Whether `t` is on this queue (by walking it; for assertions/tests).
    pub fn contains(&self, t: TcbRef, kind: LinkKind) -> bool {
        let mut at = self.head;
        while let Some(that) = at {
            if that == t {
                return true;
            }
            at = links(that, kind).next;
        }
        false
    }
}

/// A thread's address for a report (0: none).
fn addr(t: Option<TcbRef>) -> u64 {
    t.map_or(0, TcbRef::addr)
}

const PRIORITIES: usize = 256;

/// Runnable threads by priority; `current` is the one running (it is not
/// on a queue while it runs).
pub struct RunQueue {
    queues: [Queue; PRIORITIES],
    /// Bit `p` set: the queue of priority `p` is not empty.
    bitmap: [u64; PRIORITIES / 64],
    /// Bit `i` set: `bitmap[i]` is not zero. The IPC fast paths ask for
    /// the highest priority on every call; with this it is two bit scans
    /// rather than a walk down the words.
    summary: u8,
    pub current: Option<TcbRef>,
    /// Threads waiting with a deadline (`RecvTimed`), earliest first.
    sleepers: Queue,
}

impl Default for RunQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl RunQueue {
    pub const fn new() -> Self {
        Self {
            queues: [Queue::EMPTY; PRIORITIES],
            bitmap: [0; PRIORITIES / 64],
            summary: 0,
            current: None,
            sleepers: Queue::EMPTY,
        }
    }

    fn queued(&self, t: TcbRef) -> bool {
        let l = links(t, LinkKind::Run);
        l.next.is_some()
            || l.prev.is_some()
            || self.queues[usize::from(t.priority())].head == Some(t)
    }

    /// `t`, which has just blocked, gives up at TSC time `deadline`.
    pub fn sleep(&mut self, t: TcbRef, deadline: u64) {
        self.unsleep(t);
        t.with(|tcb| tcb.deadline = deadline);
        let later = |a: TcbRef, b: TcbRef| b.with(|tcb| tcb.deadline) <= a.with(|tcb| tcb.deadline);
        self.sleepers.insert_sorted(t, LinkKind::Sleep, later);
    }

    /// Whether `t` waits with a deadline.
    pub fn is_sleeping(&self, t: TcbRef) -> bool {
        let l = links(t, LinkKind::Sleep);
        l.next.is_some() || l.prev.is_some() || self.sleepers.head == Some(t)
    }

    /// `t` stopped waiting (it was woken, cancelled or destroyed): its
    /// deadline no longer applies.
    pub fn unsleep(&mut self, t: TcbRef) {
        if self.is_sleeping(t) {
            self.sleepers.remove(t, LinkKind::Sleep);
            t.with(|tcb| tcb.deadline = 0);
        }
    }

    /// The earliest deadline of a waiting thread.
    pub fn next_deadline(&self) -> Option<u64> {
        self.sleepers.head.map(|t| t.with(|t| t.deadline))
    }

    /// Takes the first thread whose deadline is `now` or earlier off the
    /// sleepers.
    pub fn expired(&mut self, now: u64) -> Option<TcbRef> {
        let t = self.sleepers.head?;
        if t.with(|tcb| tcb.deadline) > now {
            return None;
        }
        self.unsleep(t);
        Some(t)
    }

    /// Whether `t` is running or waiting to run.
    pub fn is_scheduled(&self, t: TcbRef) -> bool {
        self.current == Some(t) || self.queued(t)
    }

    /// Checks the queues against each other (for the kernel's invariant
    /// oracle): each non-empty queue has its bitmap bit and only runnable
    /// threads of its priority, linked both ways, none twice and none
    /// the running one; each empty queue has neither. Returns the first
    /// fault found, with what it concerns (a thread's address, 0 for none;
    /// the priority of a wrong bitmap bit), after following at most
    /// `limit` links per queue.
    pub fn check(&self, limit: usize) -> Result<(), (&'static str, u64)> {
        for (p, q) in self.queues.iter().enumerate() {
            let bit = self.bitmap[p / 64] & (1 << (p % 64)) != 0;
            if bit == q.is_empty() {
                return Err(("a run-queue bitmap bit disagrees with its queue", p as u64));
            }
            let word = p / 64;
            if (self.summary & (1 << word) != 0) != (self.bitmap[word] != 0) {
                return Err((
                    "the run-queue summary disagrees with its bitmap",
                    (word * 64) as u64,
                ));
            }
            let (mut at, mut prev, mut n) = (q.head, None, 0);
            while let Some(t) = at {
                n += 1;
                if n > limit {
                    return Err(("a run queue does not end (a cycle?)", t.addr()));
                }
                let l = links(t, LinkKind::Run);
                if l.prev != prev {
                    return Err(("a run-queue back link is wrong", t.addr()));
                }
                if t.state() != ThreadState::Runnable || usize::from(t.priority()) != p {
                    return Err((
                        "a thread on a run queue is not runnable at that priority",
                        t.addr(),
                    ));
                }
                if self.current == Some(t) {
                    return Err(("the running thread is also queued", t.addr()));
                }
                prev = at;
                at = l.next;
            }
            if q.tail != prev {
                return Err(("a run queue's tail is not its last thread", addr(prev)));
            }
        }
        let (mut at, mut prev, mut n, mut last) = (self.sleepers.head, None, 0, 0);
        while let Some(t) = at {
            n += 1;
            if n > limit {
                return Err(("the sleepers do not end (a cycle?)", t.addr()));
            }
            let (l, deadline, state) = t.with(|tcb| (tcb.sleep, tcb.deadline, tcb.state));
            if l.prev != prev {
                return Err(("a sleeper's back link is wrong", t.addr()));
            }
            if deadline < last {
                return Err(("the sleepers are out of deadline order", t.addr()));
            }
            if !matches!(
                state,
                ThreadState::BlockedOnReceive | ThreadState::BlockedOnNotification
            ) {
                return Err(("a sleeper does not wait to receive", t.addr()));
            }
            (prev, last, at) = (at, deadline, l.next);
        }
        if self.sleepers.tail != prev {
            return Err(("the sleepers' tail is not the last one", addr(prev)));
        }
        Ok(())
    }

    /// Makes `t` eligible to run (at the back of its priority's queue),
    /// unless it is queued or running already.
    pub fn push(&mut self, t: TcbRef) {
        if self.current == Some(t) || self.queued(t) {
            return;
        }
        self.enqueue(t);
    }

    /// Puts `t`, which is neither queued nor running, at the back of its
    /// priority's queue.
    fn enqueue(&mut self, t: TcbRef) {
        let p = usize::from(t.priority());
        self.queues[p].push_back(t, LinkKind::Run);
        self.bitmap[p / 64] |= 1 << (p % 64);
        self.summary |= 1 << (p / 64);
    }

    /// Takes `t` off the run queue; if it is running, nothing runs.
    pub fn remove(&mut self, t: TcbRef) {
        if self.queued(t) {
            let p = usize::from(t.priority());
            self.queues[p].remove(t, LinkKind::Run);
            if self.queues[p].is_empty() {
                self.emptied(p);
            }
        }
        if self.current == Some(t) {
            self.current = None;
        }
    }

    /// The queue of priority `p` became empty: its bits go.
    fn emptied(&mut self, p: usize) {
        let word = p / 64;
        self.bitmap[word] &= !(1 << (p % 64));
        if self.bitmap[word] == 0 {
            self.summary &= !(1 << word);
        }
    }

    /// The highest priority with a queued thread.
    pub fn highest(&self) -> Option<u8> {
        if self.summary == 0 {
            return None;
        }
        let word = 7 - self.summary.leading_zeros() as usize;
        Some((word * 64 + 63 - self.bitmap[word].leading_zeros() as usize) as u8)
    }

    fn pop_highest(&mut self) -> Option<TcbRef> {
        let p = usize::from(self.highest()?);
        let t = self.queues[p].pop_front(LinkKind::Run)?;
        if self.queues[p].is_empty() {
            self.emptied(p);
        }
        Some(t)
    }

    /// `t`, just made runnable (neither queued nor running), takes the CPU
    /// at once if [`choose`](Self::choose) would give it to `t` after a
    /// [`push`](Self::push): it outranks the current thread, which is
    /// runnable and goes to the back of its queue, and nothing queued is
    /// of its priority or higher (else `t` would queue behind it). True if
    /// it did; otherwise `t` is queued, as `push` does. (A signal that
    /// wakes a higher-priority waiter hands the CPU over this way, without
    /// the scheduler, and without queueing `t` only to take it off again.)
    pub fn push_preempting(&mut self, t: TcbRef) -> bool {
        let p = t.priority();
        if let Some(cur) = self.current
            && p > cur.priority()
            && cur.state() == ThreadState::Runnable
            && self.highest().is_none_or(|h| h < p)
        {
            self.enqueue(cur);
            self.current = Some(t);
            return true;
        }
        self.push(t);
        false
    }

    /// `from`, the running thread, has just blocked, and `to` (which is
    /// not queued) runs in its place: what [`remove`](Self::remove) and
    /// setting [`current`](Self::current) would do, without looking for
    /// `from` on a queue (the running thread never is on one).
    pub fn hand_over(&mut self, from: TcbRef, to: TcbRef) {
        debug_assert!(self.current == Some(from) && !self.queued(from) && !self.queued(to));
        self.current = Some(to);
    }

    /// Chooses who runs: the current thread keeps the CPU while it is
    /// runnable and nothing of higher priority waits; otherwise it goes to
    /// the back of its queue and the best queued thread runs.
    pub fn choose(&mut self) -> Option<TcbRef> {
        if let Some(cur) = self.current {
            let runnable = cur.state() == ThreadState::Runnable;
            if runnable && self.highest().is_none_or(|h| h <= cur.priority()) {
                return Some(cur);
            }
            self.current = None;
            if runnable {
                self.push(cur);
            }
        }
        self.current = self.pop_highest();
        self.current
    }

    /// Whether `t`, the running thread, simply carries on: it is still
    /// runnable and nothing of higher priority waits.
    pub fn keeps_running(&self, t: TcbRef) -> bool {
        self.current == Some(t)
            && t.state() == ThreadState::Runnable
            && self.highest().is_none_or(|h| h <= t.priority())
    }

    /// Ends the current thread's turn: threads of its priority run first.
    pub fn rotate(&mut self) -> Option<TcbRef> {
        if let Some(cur) = self.current.take()
            && cur.state() == ThreadState::Runnable
        {
            self.push(cur);
        }
        self.choose()
    }

    /// Moves `t` to priority `p`, keeping its place in the scheduler.
    pub fn set_priority(&mut self, t: TcbRef, p: u8) {
        let queued = self.queued(t);
        if queued {
            self.remove(t);
        }
        t.with(|tcb| tcb.priority = p);
        if queued {
            self.push(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tcb::Tcb;

    fn threads(priorities: &[u8]) -> (Vec<Tcb>, Vec<TcbRef>) {
        let mut t: Vec<Tcb> = priorities
            .iter()
            .map(|&p| {
                let mut tcb = Tcb::new();
                tcb.state = ThreadState::Runnable;
                tcb.priority = p;
                tcb
            })
            .collect();
        let r = t
            .iter_mut()
            .map(|b| {
                // SAFETY: the TCBs live in `t`, which the caller keeps while
                // it uses the references (and never moves: no pushes).
                unsafe { TcbRef::from_addr(b as *mut Tcb as u64) }
            })
            .collect();
        (t, r)
    }

    #[test]
    fn round_robin_within_a_priority() {
        let (_t, r) = threads(&[5, 5, 5]);
        let mut q = RunQueue::new();
        for &x in &r {
            q.push(x);
        }
        q.push(r[0]);
        assert_eq!(q.choose(), Some(r[0]));
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

    #[test]
    fn higher_priority_preempts_and_lower_waits() {
        let (_t, r) = threads(&[10, 200, 0, 255]);
        let mut q = RunQueue::new();
        q.push(r[0]);
        assert_eq!(q.choose(), Some(r[0]));
        q.push(r[2]);
        assert_eq!(q.choose(), Some(r[0]), "lower priority does not preempt");
        q.push(r[1]);
        assert_eq!(q.choose(), Some(r[1]), "higher priority preempts");
        assert_eq!(q.highest(), Some(10));
        r[1].with(|t| t.state = ThreadState::BlockedOnReceive);
        assert_eq!(q.choose(), Some(r[0]), "the preempted thread resumes");
        q.push(r[3]);
        assert_eq!(q.highest(), Some(255));
        assert_eq!(q.rotate(), Some(r[3]));
        q.set_priority(r[2], 254);
        assert_eq!(q.highest(), Some(254));
    }

    /// `push_preempting` hands over exactly when `push` then `choose`
    /// would pick the same thread, and leaves the queue as they do:
    /// checked against them on a copy of the same situation, for every
    /// priority pair and queue order.
    #[test]
    fn push_preempting_agrees_with_push_and_choose() {
        for (cur_p, woken_p, other_p, other_first) in [
            (10, 20, 0, false),
            (10, 20, 20, true),
            (10, 20, 20, false),
            (10, 20, 30, false),
            (10, 10, 0, false),
            (10, 5, 0, false),
            (10, 20, 15, false),
        ] {
            let run = |handoff: bool| {
                let (t, r) = threads(&[cur_p, woken_p, other_p]);
                let mut q = RunQueue::new();
                q.push(r[0]);
                assert_eq!(q.choose(), Some(r[0]));
                if other_p > 0 && other_first {
                    q.push(r[2]);
                }
                let index = |x: TcbRef| r.iter().position(|&y| y == x);
                let chose = if handoff {
                    let took = q.push_preempting(r[1]).then_some(1);
                    if other_p > 0 && !other_first {
                        q.push(r[2]);
                    }
                    took
                } else {
                    q.push(r[1]);
                    let chose = q.choose().and_then(index).filter(|&i| i == 1);
                    if other_p > 0 && !other_first {
                        q.push(r[2]);
                    }
                    chose
                };
                // After either, who runs next in turn must be the same.
                let mut rest = Vec::new();
                while let Some(i) = q.rotate().and_then(index) {
                    if rest.contains(&i) {
                        break;
                    }
                    rest.push(i);
                }
                drop(t);
                (chose, rest)
            };
            let (by_handoff, after_handoff) = run(true);
            let (by_choose, after_choose) = run(false);
            let case = (cur_p, woken_p, other_p, other_first);
            if by_handoff.is_some() {
                assert_eq!(by_handoff, by_choose, "{case:?}");
                assert_eq!(after_handoff, after_choose, "{case:?}");
            } else {
                // Declined: `choose` may still switch (to another thread),
                // but never to the woken one.
                assert_eq!(by_choose, None, "{case:?}");
            }
        }
    }

    #[test]
    fn sleepers_wake_in_deadline_order_and_leave_when_woken_early() {
        let (_t, r) = threads(&[1, 1, 1, 1]);
        for &t in &r {
            t.with(|tcb| tcb.state = ThreadState::BlockedOnNotification);
        }
        let mut q = RunQueue::new();
        q.sleep(r[0], 300);
        q.sleep(r[1], 100);
        q.sleep(r[2], 200);
        q.sleep(r[3], 100);
        assert_eq!(q.check(16), Ok(()));
        assert_eq!(q.next_deadline(), Some(100));
        q.unsleep(r[2]);
        assert!(!q.is_sleeping(r[2]));
        assert_eq!(q.expired(99), None);
        assert_eq!(
            q.expired(150),
            Some(r[1]),
            "equal deadlines in order of sleeping"
        );
        assert_eq!(q.expired(150), Some(r[3]));
        assert_eq!(q.expired(150), None);
        q.sleep(r[0], 50);
        assert_eq!(
            q.expired(1000),
            Some(r[0]),
            "sleeping again moves the deadline"
        );
        assert_eq!(q.expired(1000), None);
        assert_eq!(q.check(16), Ok(()));
    }

    #[test]
    fn queues_link_and_unlink_anywhere() {
        let (_t, r) = threads(&[1, 1, 1, 1]);
        let mut q = Queue::EMPTY;
        for &x in &r {
            q.push_back(x, LinkKind::Wait);
        }
        q.remove(r[2], LinkKind::Wait);
        q.remove(r[0], LinkKind::Wait);
        assert!(!q.contains(r[0], LinkKind::Wait));
        assert_eq!(q.pop_front(LinkKind::Wait), Some(r[1]));
        assert_eq!(q.pop_front(LinkKind::Wait), Some(r[3]));
        assert_eq!(q.pop_front(LinkKind::Wait), None);
        assert!(q.is_empty());
    }
}
