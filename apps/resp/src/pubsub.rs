//! Pub/Sub: which connections listen on which channels, patterns and
//! shard channels, and the messages on their way to each connection.
//!
//! A message published on one connection is for others, whose
//! [`Connection`](crate::Connection)s the front end does not hold (the
//! glue does). So it waits in the subscriber's mailbox here, the glue
//! learns which connections have mail ([`Frontend::woken`]) and feeds
//! them, and a connection takes its mail into its output when fed. A
//! mailbox is bounded by `client-output-buffer-limit`'s `pubsub` class,
//! counted with what the connection has not sent yet: past it the
//! mail is dropped and the connection closes, as Redis cuts off a slow
//! subscriber.
//!
//! [`Frontend::woken`]: crate::Frontend::woken

use crate::reply;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use kvs_core::config::OutputLimit;

/// The three kinds of subscription.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// SUBSCRIBE: a channel by name.
    Channel,
    /// PSUBSCRIBE: the channels a glob pattern matches.
    Pattern,
    /// SSUBSCRIBE: a shard channel (Redis Cluster's; one shard here).
    Shard,
}

impl Kind {
    /// The words a (un)subscription reply starts with.
    fn words(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
            Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

/// One connection's subscriptions.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    channels: BTreeSet<Vec<u8>>,
    patterns: BTreeSet<Vec<u8>>,
    shard: BTreeSet<Vec<u8>>,
}

impl Subscriptions {
    fn of(&mut self, kind: Kind) -> &mut BTreeSet<Vec<u8>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count a reply of `kind` shows: channels and patterns together,
    /// shard channels apart (as Redis counts them).
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
            Kind::Shard => self.shard.len(),
        }
    }

    /// Whether the connection is in subscribed mode (RESP2: only the
    /// (un)subscribe commands, PING, QUIT and RESET).
    pub(crate) fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }

    /// CLIENT LIST's `sub`, `psub` and `ssub`.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.channels.len(), self.patterns.len(), self.shard.len())
    }
}

/// Messages waiting for one connection.
#[derive(Debug, Default)]
struct Mailbox {
    bytes: Vec<u8>,
    /// The limit was passed: the mail is dropped and the connection
    /// closes when it next runs.
    overflowed: bool,
    /// Since when mail and unsent output have been past the soft limit
    /// (microseconds).
    soft_since: Option<u64>,
}

/// Every subscription of every connection, and their mail.
#[derive(Debug, Default)]
pub(crate) struct PubSub {
    channels: BTreeMap<Vec<u8>, BTreeSet<u64>>,
    patterns: BTreeMap<Vec<u8>, BTreeSet<u64>>,
    shard: BTreeMap<Vec<u8>, BTreeSet<u64>>,
    mail: BTreeMap<u64, Mailbox>,
    /// Bytes in all mailboxes.
    mail_bytes: usize,
    /// The connections that said `HELLO 3`: their messages and
    /// confirmations are pushes.
    resp3: BTreeSet<u64>,
}

/// What a connection's mail came to when it took it.
pub(crate) enum Mail {
    /// Messages to append to its output.
    Messages(Vec<u8>),
    /// Its subscriber was too slow: close it.
    Overflowed,
}

/// What [`PubSub::publish`] needs to know of the receivers' output.
pub(crate) struct Delivery<'a> {
    /// `client-output-buffer-limit`, class `pubsub`.
    pub(crate) limit: OutputLimit,
    /// The time now (microseconds).
    pub(crate) now_us: u64,
    /// Bytes a connection (by id) has not sent yet.
    pub(crate) unsent: &'a dyn Fn(u64) -> usize,
    /// What all mailboxes together may hold: what the clients' memory
    /// has left. A subscriber whose mail would pass it is cut off, as
    /// Redis evicts clients past `maxmemory-clients`.
    pub(crate) budget: u64,
}

impl PubSub {
    fn registry(&mut self, kind: Kind) -> &mut BTreeMap<Vec<u8>, BTreeSet<u64>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Connection `id` speaks RESP3 (`on`) or RESP2 from now on.
    pub(crate) fn set_resp3(&mut self, id: u64, on: bool) {
        match on {
            true => self.resp3.insert(id),
            false => self.resp3.remove(&id),
        };
    }

    /// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: connection `id` (with `subs`)
    /// listens on each of `names`; one reply each.
    pub(crate) fn subscribe(
        &mut self,
        kind: Kind,
        id: u64,
        subs: &mut Subscriptions,
        names: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let resp3 = self.resp3.contains(&id);
        for &name in names {
            if subs.of(kind).insert(name.to_vec()) {
                self.registry(kind)
                    .entry(name.to_vec())
                    .or_default()
                    .insert(id);
            }
            confirm(out, kind.words().0, Some(name), subs.count(kind), resp3);
        }
    }

    /// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: stops listening on each
    /// of `names`, or on every one of the kind when there are none; one
    /// reply each (one with a nil name when there was nothing to stop).
    pub(crate) fn unsubscribe(
        &mut self,
        kind: Kind,
        id: u64,
        subs: &mut Subscriptions,
        names: &[&[u8]],
        out: &mut Vec<u8>,
    ) {
        let word = kind.words().1;
        let resp3 = self.resp3.contains(&id);
        if names.is_empty() {
            let all: Vec<Vec<u8>> = core::mem::take(subs.of(kind)).into_iter().collect();
            if all.is_empty() {
                confirm(out, word, None, subs.count(kind), resp3);
            }
            for name in all {
                self.forget(kind, id, &name);
                confirm(out, word, Some(&name), subs.count(kind), resp3);
            }
            return;
        }
        for &name in names {
            if subs.of(kind).remove(name) {
                self.forget(kind, id, name);
            }
            confirm(out, word, Some(name), subs.count(kind), resp3);
        }
    }

    /// Takes connection `id` off `name`'s listeners.
    fn forget(&mut self, kind: Kind, id: u64, name: &[u8]) {
        let registry = self.registry(kind);
        if let Some(ids) = registry.get_mut(name) {
            ids.remove(&id);
            if ids.is_empty() {
                registry.remove(name);
            }
        }
    }

    /// Connection `id` goes (or is RESET): every subscription ends,
    /// without replies, its mail is dropped, and it is RESP2's again.
    pub(crate) fn leave(&mut self, id: u64, subs: &mut Subscriptions) {
        self.resp3.remove(&id);
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in core::mem::take(subs.of(kind)) {
                self.forget(kind, id, &name);
            }
        }
        if let Some(mailbox) = self.mail.remove(&id) {
            self.mail_bytes -= mailbox.bytes.len();
        }
    }

    /// PUBLISH (`shard` false) or SPUBLISH: `message` to the listeners of
    /// `channel` and, for PUBLISH, of every pattern that matches it.
    /// Returns how many got it (a connection listening twice, on the
    /// channel and a pattern, counts twice, as in Redis).
    pub(crate) fn publish(
        &mut self,
        shard: bool,
        channel: &[u8],
        message: &[u8],
        delivery: &Delivery<'_>,
    ) -> usize {
        let mut sent = 0;
        let direct = if shard { &self.shard } else { &self.channels };
        let word: &[u8] = if shard { b"smessage" } else { b"message" };
        let mut letters: Vec<(u64, Vec<u8>)> = Vec::new();
        if let Some(ids) = direct.get(channel) {
            let mut letter = Vec::new();
            reply::array(&mut letter, 3);
            reply::bulk(&mut letter, word);
            reply::bulk(&mut letter, channel);
            reply::bulk(&mut letter, message);
            letters.extend(ids.iter().map(|&id| (id, letter.clone())));
        }
        if !shard {
            for (pattern, ids) in &self.patterns {
                if !kvs_core::glob::matches(pattern, channel) {
                    continue;
                }
                let mut letter = Vec::new();
                reply::array(&mut letter, 4);
                reply::bulk(&mut letter, b"pmessage");
                reply::bulk(&mut letter, pattern);
                reply::bulk(&mut letter, channel);
                reply::bulk(&mut letter, message);
                letters.extend(ids.iter().map(|&id| (id, letter.clone())));
            }
        }
        for (id, mut letter) in letters {
            // A push to a RESP3 connection: `>` where RESP2 has `*`.
            if self.resp3.contains(&id) {
                letter[0] = b'>';
            }
            self.post(id, &letter, delivery);
            sent += 1;
        }
        sent
    }

    /// Puts `letter` in connection `id`'s mailbox, unless that passes the
    /// `pubsub` limit: then the mailbox overflows (its mail is dropped,
    /// the connection will close).
    pub(crate) fn post(&mut self, id: u64, letter: &[u8], delivery: &Delivery<'_>) {
        let unsent = (delivery.unsent)(id);
        let total = self.mail_bytes + letter.len();
        let mailbox = self.mail.entry(id).or_default();
        if mailbox.overflowed {
            return;
        }
        let pending = (unsent + mailbox.bytes.len() + letter.len()) as u64;
        let limit = delivery.limit;
        let over_hard = limit.hard > 0 && pending > limit.hard;
        let over_soft = limit.soft > 0 && pending > limit.soft;
        let lasted = over_soft && {
            let since = *mailbox.soft_since.get_or_insert(delivery.now_us);
            delivery.now_us.saturating_sub(since) > limit.soft_seconds.saturating_mul(1_000_000)
        };
        if !over_soft {
            mailbox.soft_since = None;
        }
        if over_hard
            || lasted
            || total as u64 > delivery.budget
            || mailbox.bytes.try_reserve(letter.len()).is_err()
        {
            mailbox.overflowed = true;
            self.mail_bytes -= mailbox.bytes.len();
            mailbox.bytes = Vec::new();
            return;
        }
        mailbox.bytes.extend_from_slice(letter);
        self.mail_bytes += letter.len();
    }

    /// Connection `id`'s mail, if it has any.
    pub(crate) fn take(&mut self, id: u64) -> Option<Mail> {
        let mailbox = self.mail.remove(&id)?;
        self.mail_bytes -= mailbox.bytes.len();
        Some(if mailbox.overflowed {
            Mail::Overflowed
        } else {
            Mail::Messages(mailbox.bytes)
        })
    }

    /// The connections with mail (or overflowed), by id.
    pub(crate) fn with_mail(&self) -> impl Iterator<Item = u64> + '_ {
        self.mail.keys().copied()
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: the channels with listeners that
    /// `pattern` matches (all of them without one), in name order.
    pub(crate) fn active(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<&[u8]> {
        let registry = if shard { &self.shard } else { &self.channels };
        registry
            .keys()
            .map(Vec::as_slice)
            .filter(|c| pattern.is_none_or(|p| kvs_core::glob::matches(p, c)))
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: the listeners of `channel` (not
    /// counting patterns).
    pub(crate) fn listeners(&self, shard: bool, channel: &[u8]) -> usize {
        let registry = if shard { &self.shard } else { &self.channels };
        registry.get(channel).map_or(0, BTreeSet::len)
    }

    /// PUBSUB NUMPAT, and INFO's `pubsub_patterns`: the patterns some
    /// connection listens on.
    pub(crate) fn patterns(&self) -> usize {
        self.patterns.len()
    }

    /// INFO's `pubsub_channels` and `pubsubshard_channels`.
    pub(crate) fn channel_counts(&self) -> (usize, usize) {
        (self.channels.len(), self.shard.len())
    }

    /// Whether some connection listens on a channel or a pattern (which
    /// keyspace events may reach).
    pub(crate) fn listening(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }
}

/// A (un)subscription reply: `[word, name or nil, count]`, pushed in
/// RESP3.
fn confirm(out: &mut Vec<u8>, word: &[u8], name: Option<&[u8]>, count: usize, resp3: bool) {
    reply::push(out, 3, resp3);
    reply::bulk(out, word);
    match name {
        Some(n) => reply::bulk(out, n),
        None => reply::null(out, resp3),
    }
    reply::int(out, count as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(limit: OutputLimit) -> Delivery<'static> {
        Delivery {
            limit,
            now_us: 0,
            unsent: &|_| 0,
            budget: u64::MAX,
        }
    }

    fn text(b: &[u8]) -> alloc::string::String {
        alloc::string::String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn channels_patterns_and_counts() {
        let mut ps = PubSub::default();
        let mut a = Subscriptions::default();
        let mut out = Vec::new();
        ps.subscribe(Kind::Channel, 1, &mut a, &[b"news", b"news"], &mut out);
        ps.subscribe(Kind::Pattern, 1, &mut a, &[b"n*"], &mut out);
        ps.subscribe(Kind::Shard, 1, &mut a, &[b"s"], &mut out);
        assert_eq!(
            text(&out),
            "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n\
             *3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n\
             *3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:2\r\n\
             *3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
        );
        let d = delivery(OutputLimit::default());
        assert_eq!(ps.publish(false, b"news", b"hi", &d), 2);
        assert_eq!(ps.publish(false, b"nope", b"x", &d), 1);
        assert_eq!(ps.publish(true, b"s", b"q", &d), 1);
        assert_eq!(ps.publish(false, b"zz", b"x", &d), 0);
        let Some(Mail::Messages(mail)) = ps.take(1) else {
            panic!("no mail");
        };
        assert_eq!(
            text(&mail),
            "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
             *4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
             *4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnope\r\n$1\r\nx\r\n\
             *3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nq\r\n"
        );
        assert!(ps.take(1).is_none());
        assert_eq!(ps.active(false, None), [b"news"]);
        assert_eq!(ps.listeners(false, b"news"), 1);
        assert_eq!(ps.patterns(), 1);
        out.clear();
        ps.unsubscribe(Kind::Channel, 1, &mut a, &[], &mut out);
        ps.unsubscribe(Kind::Channel, 1, &mut a, &[], &mut out);
        assert_eq!(
            text(&out),
            "*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:1\r\n\
             *3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n"
        );
        assert!(a.active());
        ps.leave(1, &mut a);
        assert!(!a.active());
        assert_eq!(ps.channel_counts(), (0, 0));
        assert_eq!(ps.patterns(), 0);
    }

    #[test]
    fn a_slow_subscriber_overflows() {
        let mut ps = PubSub::default();
        let mut a = Subscriptions::default();
        ps.subscribe(Kind::Channel, 7, &mut a, &[b"c"], &mut Vec::new());
        let limit = OutputLimit {
            hard: 100,
            soft: 0,
            soft_seconds: 0,
        };
        let d = delivery(limit);
        assert_eq!(ps.publish(false, b"c", b"0123456789", &d), 1);
        assert_eq!(ps.publish(false, b"c", &[b'x'; 80], &d), 1);
        assert!(matches!(ps.take(7), Some(Mail::Overflowed)));
        // What the connection has not sent counts too.
        let unsent = |_| 95;
        let d = Delivery {
            limit,
            now_us: 0,
            unsent: &unsent,
            budget: u64::MAX,
        };
        ps.publish(false, b"c", b"hi", &d);
        assert!(matches!(ps.take(7), Some(Mail::Overflowed)));
        // And what all mailboxes hold, against the clients' memory.
        let mut b = Subscriptions::default();
        ps.subscribe(Kind::Channel, 8, &mut b, &[b"c"], &mut Vec::new());
        let d = Delivery {
            limit: OutputLimit::default(),
            now_us: 0,
            unsent: &|_| 0,
            budget: 60,
        };
        assert_eq!(ps.publish(false, b"c", &[b'y'; 20], &d), 2);
        let first = ps.take(7);
        let second = ps.take(8);
        assert!(matches!(first, Some(Mail::Messages(_))), "the first fits");
        assert!(
            matches!(second, Some(Mail::Overflowed)),
            "the second would pass 60 bytes"
        );
        assert_eq!(ps.mail_bytes, 0);
    }

    #[test]
    fn the_soft_limit_must_last() {
        let mut ps = PubSub::default();
        ps.subscribe(
            Kind::Channel,
            7,
            &mut Subscriptions::default(),
            &[b"c"],
            &mut Vec::new(),
        );
        let limit = OutputLimit {
            hard: 0,
            soft: 10,
            soft_seconds: 2,
        };
        let at = |now_us| Delivery {
            limit,
            now_us,
            unsent: &|_| 0,
            budget: u64::MAX,
        };
        ps.publish(false, b"c", b"0123456789", &at(0));
        ps.publish(false, b"c", b"x", &at(1_000_000));
        assert!(matches!(ps.take(7), Some(Mail::Messages(_))));
        ps.publish(false, b"c", b"0123456789", &at(5_000_000));
        ps.publish(false, b"c", b"x", &at(7_500_000));
        assert!(matches!(ps.take(7), Some(Mail::Overflowed)));
    }
}
