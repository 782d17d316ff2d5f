//! `net_api::serve`'s tests: the stream server on the net server's
//! test bench (a real smoltcp stack on the other end).

#[cfg(test)]
mod tests {
    extern crate std;

    use crate::testing::Bench;
    use alloc::vec;
    use net_api::proto::Endpoint;
    use net_api::serve::*;

    /// Answers each byte `n` with `n` copies of itself; `x` closes; at
    /// more than `pause` bytes of output it asks to drain, keeping the
    /// rest of its input for later.
    struct Echoes {
        pause: usize,
        closed: usize,
        refused: usize,
    }

    impl Protocol for Echoes {
        type Conn = Vec<u8>;
        fn open(&mut self, _: Endpoint, _: u16) -> Vec<u8> {
            Vec::new()
        }
        fn feed(&mut self, held: &mut Vec<u8>, input: &[u8], out: &mut Vec<u8>) -> Flow {
            held.extend_from_slice(input);
            while !held.is_empty() {
                if out.len() > self.pause {
                    return Flow::Drain;
                }
                let b = held.remove(0);
                if b == b'x' {
                    return Flow::Close;
                }
                out.extend(core::iter::repeat_n(b, usize::from(b - b'0')));
            }
            Flow::Read
        }
        fn close(&mut self, _: Vec<u8>) {
            self.closed += 1;
        }
        fn refused(&mut self) {
            self.refused += 1;
        }
    }

    fn server(pause: usize, max: usize) -> StreamServer<Echoes> {
        StreamServer::new(
            Echoes {
                pause,
                closed: 0,
                refused: 0,
            },
            9,
            8,
            max,
        )
    }

    #[test]
    fn a_large_answer_is_drained_not_buffered() {
        let mut s = server(1000, 10);
        let mut bench = Bench::new(Default::default());
        bench.run(5, |e, io| s.handle(e, io));
        let c = bench.peer.connect(9);
        bench.run(20, |e, io| s.handle(e, io));
        // 5,000 bytes of input ask for 45,000 bytes of output.
        let input = vec![b'9'; 5000];
        let mut sent = 0;
        let mut got = Vec::new();
        for _ in 0..2000 {
            sent += bench.peer.send(c, &input[sent..]);
            bench.run(1, |e, io| s.handle(e, io));
            got.extend(bench.peer.recv(c));
            // The server never holds much more than its pause of output.
            assert!(s.most_output() <= 1000 + 9, "{}", s.most_output());
            if got.len() == 45_000 {
                break;
            }
        }
        assert_eq!(got, vec![b'9'; 45_000]);
    }

    #[test]
    fn close_after_the_answer_and_a_limit_on_connections() {
        let mut s = server(1 << 20, 2);
        let mut bench = Bench::new(Default::default());
        bench.run(5, |e, io| s.handle(e, io));
        let a = bench.peer.connect(9);
        let b = bench.peer.connect(9);
        bench.run(20, |e, io| s.handle(e, io));
        let c = bench.peer.connect(9);
        bench.run(20, |e, io| s.handle(e, io));
        assert_eq!(s.protocol().refused, 1);
        // Turned away: the server closed it.
        assert!(
            !bench.peer.tcp(c).may_recv(),
            "{:?}",
            bench.peer.tcp(c).state()
        );
        bench.peer.send(a, b"3x9");
        bench.run(40, |e, io| s.handle(e, io));
        // The answer before `x`, then the close; nothing after it.
        assert_eq!(bench.peer.recv(a), b"333");
        assert!(!bench.peer.tcp(a).may_recv());
        assert_eq!(s.protocol().closed, 1);
        assert_eq!(s.connections(), 1);
        bench.peer.send(b, b"2");
        bench.run(20, |e, io| s.handle(e, io));
        assert_eq!(bench.peer.recv(b), b"22");
    }
}

#[cfg(test)]
mod rounds {
    extern crate std;

    use crate::testing::Bench;
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use net_api::proto::Endpoint;
    use net_api::serve::*;

    /// Upper-cases each byte, but only in a round: `feed` queues, `flush`
    /// answers every connection's queue at once.
    #[derive(Default)]
    struct Rounds {
        next: u32,
        queued: BTreeMap<u32, Vec<u8>>,
        answered: BTreeMap<u32, Vec<u8>>,
        flushes: usize,
    }

    impl Protocol for Rounds {
        type Conn = u32;
        fn open(&mut self, _: Endpoint, _: u16) -> u32 {
            self.next += 1;
            self.next
        }
        fn feed(&mut self, id: &mut u32, input: &[u8], out: &mut Vec<u8>) -> Flow {
            if let Some(done) = self.answered.remove(id) {
                out.extend(done);
            }
            if input.is_empty() {
                return Flow::Read;
            }
            self.queued.entry(*id).or_default().extend_from_slice(input);
            Flow::Wait
        }
        fn close(&mut self, _: u32) {}
        fn flush(&mut self) {
            self.flushes += 1;
            for (id, q) in core::mem::take(&mut self.queued) {
                self.answered
                    .entry(id)
                    .or_default()
                    .extend(q.to_ascii_uppercase());
            }
        }
    }

    /// [`Rounds`] whose flushes leave the round running `stalls` times
    /// first (as the RESP front end's round whose script runs on).
    #[derive(Default)]
    struct Stalls {
        rounds: Rounds,
        stalls: usize,
        busy: bool,
    }

    impl Protocol for Stalls {
        type Conn = u32;
        fn open(&mut self, peer: Endpoint, port: u16) -> u32 {
            self.rounds.open(peer, port)
        }
        fn feed(&mut self, id: &mut u32, input: &[u8], out: &mut Vec<u8>) -> Flow {
            let flow = self.rounds.feed(id, input, out);
            // Still in the round: it waits for it again.
            if self.rounds.queued.contains_key(id) {
                Flow::Wait
            } else {
                flow
            }
        }
        fn close(&mut self, id: u32) {
            self.rounds.close(id)
        }
        fn flush(&mut self) {
            self.busy = self.stalls > 0;
            if self.busy {
                self.stalls -= 1;
                return;
            }
            self.rounds.flush();
        }
        fn busy(&mut self) -> bool {
            self.busy
        }
    }

    #[test]
    fn a_round_that_runs_on_is_answered_at_a_later_wake_up() {
        let protocol = Stalls {
            stalls: 3,
            ..Default::default()
        };
        let mut s = StreamServer::new(protocol, 9, 64, 100);
        let mut bench = Bench::new(Default::default());
        bench.serve(5, &mut s);
        let p = bench.peer.connect(9);
        bench.serve(40, &mut s);
        assert_eq!(bench.peer.send(p, b"abc"), 3);
        let mut got = Vec::new();
        for _ in 0..200 {
            bench.serve(1, &mut s);
            if s.protocol().stalls < 3 {
                break;
            }
        }
        // One flush, and the server went back to waiting for events
        // instead of flushing again at once.
        assert_eq!(s.protocol().stalls, 2);
        for _ in 0..200 {
            bench.serve(1, &mut s);
            got.extend(bench.peer.recv(p));
        }
        assert_eq!(got, b"ABC");
        assert_eq!(s.protocol().stalls, 0);
        assert_eq!(s.protocol().rounds.flushes, 1, "run once it could");
    }

    #[test]
    fn connections_share_rounds_and_a_finished_peer_gets_its_answer() {
        let mut s = StreamServer::new(Rounds::default(), 9, 64, 100);
        let mut bench = Bench::new(Default::default());
        bench.serve(5, &mut s);
        let peers: Vec<_> = (0..10).map(|_| bench.peer.connect(9)).collect();
        bench.serve(40, &mut s);
        for &p in &peers {
            assert_eq!(bench.peer.send(p, b"abc"), 3);
        }
        // The last one finishes sending at once: it still gets its answer
        // before the server closes.
        bench.peer.tcp(peers[9]).close();
        let mut got = vec![Vec::new(); peers.len()];
        for _ in 0..200 {
            bench.serve(1, &mut s);
            for (i, &p) in peers.iter().enumerate() {
                got[i].extend(bench.peer.recv(p));
            }
        }
        assert!(got.iter().all(|g| g == b"ABC"), "{got:?}");
        assert!(
            s.protocol().flushes < peers.len(),
            "{} flushes for {} connections",
            s.protocol().flushes,
            peers.len()
        );
        assert!(!bench.peer.tcp(peers[9]).may_recv(), "closed after");
        assert_eq!(s.connections(), 9);
    }
}

#[cfg(test)]
mod pushes {
    extern crate std;

    use crate::testing::Bench;
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use net_api::proto::Endpoint;
    use net_api::serve::*;

    /// A chat: each connection's bytes go to every other connection, which
    /// receives them without sending anything (as Pub/Sub's messages do).
    #[derive(Default)]
    struct Chat {
        next: u64,
        /// Bytes waiting for each connection, by key.
        mail: BTreeMap<u64, Vec<u8>>,
        open: Vec<u64>,
    }

    impl Protocol for Chat {
        type Conn = u64;
        fn open(&mut self, _: Endpoint, _: u16) -> u64 {
            self.next += 1;
            self.open.push(self.next);
            self.next
        }
        fn feed(&mut self, me: &mut u64, input: &[u8], out: &mut Vec<u8>) -> Flow {
            for &other in self.open.iter().filter(|&&o| o != *me) {
                self.mail.entry(other).or_default().extend_from_slice(input);
            }
            if let Some(mail) = self.mail.remove(me) {
                out.extend(mail);
            }
            Flow::Read
        }
        fn close(&mut self, me: u64) {
            self.open.retain(|&o| o != me);
            self.mail.remove(&me);
        }
        fn key(me: &u64) -> u64 {
            *me
        }
        fn woken(&mut self, keys: &mut Vec<u64>) {
            keys.extend(self.mail.keys());
        }
    }

    #[test]
    fn a_connection_that_sends_nothing_gets_what_others_send() {
        let mut s = StreamServer::new(Chat::default(), 9, 8, 10);
        let mut bench = Bench::new(Default::default());
        bench.serve(5, &mut s);
        let peers: Vec<_> = (0..3).map(|_| bench.peer.connect(9)).collect();
        bench.serve(40, &mut s);
        assert_eq!(bench.peer.send(peers[0], b"hello"), 5);
        let mut got = vec![Vec::new(); peers.len()];
        for _ in 0..100 {
            bench.serve(1, &mut s);
            for (i, &p) in peers.iter().enumerate() {
                got[i].extend(bench.peer.recv(p));
            }
        }
        assert_eq!(got, [b"".to_vec(), b"hello".to_vec(), b"hello".to_vec()]);
        // One goes: the others still hear each other.
        bench.peer.tcp(peers[1]).abort();
        bench.serve(20, &mut s);
        assert_eq!(bench.peer.send(peers[2], b"bye"), 3);
        for _ in 0..100 {
            bench.serve(1, &mut s);
            got[0].extend(bench.peer.recv(peers[0]));
        }
        assert_eq!(got[0], b"bye");
        assert_eq!(s.protocol().open.len(), 2);
    }
}

#[cfg(test)]
mod load {
    extern crate std;

    use crate::testing::Bench;
    use alloc::vec;
    use net_api::proto::Endpoint;
    use net_api::serve::*;

    /// Answers each `L` with 3,000 bytes (an LRANGE of 300 short items).
    struct Lists;

    impl Protocol for Lists {
        type Conn = ();
        fn open(&mut self, _: Endpoint, _: u16) {}
        fn feed(&mut self, _: &mut (), input: &[u8], out: &mut Vec<u8>) -> Flow {
            for _ in input.iter().filter(|&&b| b == b'L') {
                out.extend(core::iter::repeat_n(b'x', 3000));
            }
            Flow::Read
        }
        fn close(&mut self, _: ()) {}
    }

    #[test]
    fn twenty_clients_with_large_replies_never_wait_for_the_tick() {
        let mut s = StreamServer::new(Lists, 9, 64, 100);
        let mut bench = Bench::sleeping(Default::default());
        bench.run(5, |e, io| s.handle(e, io));
        let peers: Vec<_> = (0..20).map(|_| bench.peer.connect(9)).collect();
        bench.run(40, |e, io| s.handle(e, io));
        let mut got = vec![0usize; peers.len()];
        for round in 1..=10 {
            for &p in &peers {
                assert_eq!(bench.peer.send(p, b"L"), 1);
            }
            for _ in 0..2000 {
                bench.run(1, |e, io| s.handle(e, io));
                for (i, &p) in peers.iter().enumerate() {
                    got[i] += bench.peer.recv(p).len();
                }
                if got.iter().all(|&n| n == round * 3000) {
                    break;
                }
            }
            assert!(
                got.iter().all(|&n| n == round * 3000),
                "round {round}: {got:?}"
            );
        }
        assert_eq!(bench.timer_rounds, 0, "wake-ups missed");
    }
}

/// The example of `net_api::serve`'s documentation, on the bench.
#[test]
fn the_documented_example_answers_line_lengths() {
    use crate::testing::Bench;
    use net_api::serve::{Flow, Protocol, StreamServer};

    struct Lengths;
    impl Protocol for Lengths {
        type Conn = Vec<u8>;
        fn open(&mut self, _: net_api::proto::Endpoint, _: u16) -> Vec<u8> {
            Vec::new()
        }
        fn feed(&mut self, line: &mut Vec<u8>, input: &[u8], out: &mut Vec<u8>) -> Flow {
            for &b in input {
                if b == b'\n' {
                    out.extend_from_slice(format!("{}\n", line.len()).as_bytes());
                    line.clear();
                } else {
                    line.push(b);
                }
            }
            Flow::Read
        }
        fn close(&mut self, _: Vec<u8>) {}
    }

    let mut server = StreamServer::new(Lengths, 7, 16, 100);
    let mut bench = Bench::new(Default::default());
    bench.run(5, |e, io| server.handle(e, io));
    let c = bench.peer.connect(7);
    bench.run(20, |e, io| server.handle(e, io));
    bench.peer.send(c, b"hello\nhi\n");
    bench.run(20, |e, io| server.handle(e, io));
    assert_eq!(bench.peer.recv(c), b"5\n2\n");
}
