//! Rounds whose script runs on past `busy-reply-threshold`
//! (`kvs_api::busy`): the store's watch, and what the server keeps for it.
//!
//! The store asks its watch between a script's steps once the threshold
//! has passed ([`kvs_core::Watch`]). For a round of a client that can be
//! told (its region has control words and the server can signal it), the
//! watch writes the script's state into the control words, answers the
//! round call early with [`RUNNING`](kvs_api::RUNNING) the first time, and
//! says `Kill` once the client asked for one. For any other call (a
//! single command, a MULTI's EXEC, a client without control words) it
//! says `Stop`: nobody could be told the store is busy, or kill the
//! script.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use kvs_api::busy::{Control, Running};
use kvs_core::{Overtime as Script, Verdict, Watch};
use spin::Mutex;

/// How the server answers the call in progress early (on Basalt,
/// `libcap::rpc::answer_early(RUNNING)`).
pub type AnswerEarly = Box<dyn FnMut() + Send>;

/// What the watch and the server share.
struct Shared {
    /// Each region's control words (by region index), if it has them.
    controls: Vec<Option<Control>>,
    /// The region of the client whose round runs now, if it may run on.
    round: Option<usize>,
    /// That round's call was answered early.
    answered: bool,
    /// How to answer it early; without it no round runs on.
    answer_early: Option<AnswerEarly>,
}

/// The server's side of overtime rounds.
pub(crate) struct Overtime(Arc<Mutex<Shared>>);

impl core::fmt::Debug for Overtime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.0.lock();
        f.debug_struct("Overtime")
            .field("round", &s.round)
            .field("answered", &s.answered)
            .finish()
    }
}

impl Overtime {
    /// The regions' control words (cleared: what a previous instance of
    /// the server left means nothing now), and the watch to give the
    /// store.
    pub(crate) fn new(mut controls: Vec<Option<Control>>) -> (Self, Watch) {
        for c in controls.iter_mut().flatten() {
            c.clear();
        }
        let shared = Arc::new(Mutex::new(Shared {
            controls,
            round: None,
            answered: false,
            answer_early: None,
        }));
        let seen = shared.clone();
        let watch = Watch(Box::new(move |script: &Script| {
            watch(&mut seen.lock(), script)
        }));
        (Self(shared), watch)
    }

    /// Lets rounds run on, answered early by `answer`.
    pub(crate) fn answer_early_with(&self, answer: AnswerEarly) {
        self.0.lock().answer_early = Some(answer);
    }

    /// A round begins; it may run on if `region` (its client's, when the
    /// server can signal that client) has control words.
    pub(crate) fn begin(&self, region: Option<usize>) {
        let mut s = self.0.lock();
        s.round = region.filter(|&r| s.controls.get(r).is_some_and(Option::is_some));
        s.answered = false;
    }

    /// The round ended: whether its call was answered early (its answer
    /// is for [`Kvs::finished`](kvs_api::Kvs::finished)).
    pub(crate) fn end(&self) -> bool {
        let mut s = self.0.lock();
        s.round = None;
        core::mem::take(&mut s.answered)
    }

    /// Says in `region`'s control words that its round is done.
    pub(crate) fn done(&self, region: usize) {
        self.with_control(region, Control::done);
    }

    /// Clears `region`'s control words: its answer was taken.
    pub(crate) fn clear(&self, region: usize) {
        self.with_control(region, Control::clear);
    }

    fn with_control(&self, region: usize, f: fn(&mut Control)) {
        if let Some(c) = self
            .0
            .lock()
            .controls
            .get_mut(region)
            .and_then(Option::as_mut)
        {
            f(c);
        }
    }
}

/// The watch: what becomes of a script past the threshold.
fn watch(s: &mut Shared, script: &Script) -> Verdict {
    let Shared {
        controls,
        round,
        answered,
        answer_early,
    } = s;
    let (Some(answer), Some(control)) = (
        answer_early.as_mut(),
        round
            .and_then(|r| controls.get_mut(r))
            .and_then(Option::as_mut),
    ) else {
        return Verdict::Stop;
    };
    // The state first: the client reads it as soon as the answer comes.
    control.publish(&Running {
        function: script.function,
        wrote: script.wrote,
        elapsed_ms: script.elapsed_ms,
    });
    if !*answered {
        answer();
        *answered = true;
    }
    if control.kill_asked() {
        Verdict::Kill
    } else {
        Verdict::Run
    }
}
