//! Property: whatever the bytes, and however they are split into pieces,
//! a connection gives the same replies and the same flow, and never
//! panics. The inputs are built from protocol fragments and mutated, the
//! way a broken or hostile client would send them.

mod common;

use common::drive;
use proptest::prelude::*;
use resp::{Command, Flow, Frontend, Store, StoreError};

/// A store that answers with what it received, so that any difference in
/// how a command was read shows in the output.
struct Mirror;

impl Store for Mirror {
    fn exec(
        &mut self,
        _session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        if command.arg(0) == Some(b"MULTI") {
            reply.extend_from_slice(b"+OK\r\n");
            return Ok(());
        }
        reply.extend_from_slice(format!("${}\r\n", command.encoded().len()).as_bytes());
        reply.extend_from_slice(command.encoded());
        reply.extend_from_slice(b"\r\n");
        Ok(())
    }

    fn close(&mut self, _session: u64) {}
}

/// Runs `input` in the given pieces on a fresh connection.
fn replies(input: &[u8], cuts: &[usize]) -> (Vec<u8>, Flow) {
    let mut fe = Frontend::new(Mirror, || 1_000_000u64);
    let mut conn = fe.connect(
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:6379".parse().unwrap(),
    );
    let mut out = Vec::new();
    let mut flow = Flow::Continue;
    let mut at = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        let cut = cut.clamp(at, input.len());
        let (o, f) = drive(&mut conn, &mut fe, &input[at..cut]);
        out.extend(o);
        flow = f;
        at = cut;
    }
    fe.disconnect(conn);
    (out, flow)
}

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let piece = |bytes: &'static [u8]| Just(bytes.to_vec());
    prop_oneof![
        // Whole commands.
        piece(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
        piece(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\r\n\r\n"),
        piece(b"ECHO \"a\\x41 b\" 'c\\'d'\r\n"),
        piece(b"PING\n"),
        piece(b"MULTI\r\n"),
        piece(b"CLIENT SETNAME x\r\n"),
        piece(b"QUIT\r\n"),
        // Headers and payloads, to be put together in any order.
        piece(b"*1\r\n"),
        piece(b"*2\r\n"),
        piece(b"*0\r\n"),
        piece(b"*-1\r\n"),
        piece(b"$4\r\n"),
        piece(b"$1\r\n"),
        piece(b"$0\r\n"),
        piece(b"PING\r\n"),
        piece(b"k\r\n"),
        piece(b"\r\n"),
        // Anything, mostly the bytes the framing cares about.
        prop::collection::vec(
            prop_oneof![
                Just(b'*'),
                Just(b'$'),
                Just(b'\r'),
                Just(b'\n'),
                Just(b' '),
                Just(b'"'),
                Just(b'\''),
                Just(b'\\'),
                Just(b'-'),
                Just(b'0'),
                Just(b'1'),
                Just(b'9'),
                any::<u8>(),
            ],
            0..8
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_split_same_replies(
        fragments in prop::collection::vec(fragment(), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let input: Vec<u8> = fragments.concat();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort_unstable();
        let whole = replies(&input, &[]);
        prop_assert_eq!(replies(&input, &cuts), whole.clone());
        let bytes: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(replies(&input, &bytes), whole);
    }
}
