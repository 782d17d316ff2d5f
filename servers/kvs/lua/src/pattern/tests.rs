//! Pattern tests, with expectations from Lua 5.1's documented behaviour.

use super::*;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Renders a capture the way Lua returns it: text, or a 1-based position.
fn show(s: &[u8], capture: &Capture) -> String {
    match capture {
        Capture::Span(range) => String::from_utf8_lossy(&s[range.clone()]).into_owned(),
        Capture::Position(at) => format!("@{}", at + 1),
    }
}

/// `string.find(s, p)` as (1-based start, end, captures).
fn lua_find(s: &str, p: &str) -> Option<(usize, usize, Vec<String>)> {
    let found = find(s.as_bytes(), p.as_bytes(), 0).unwrap()?;
    let captures = found
        .captures
        .iter()
        .map(|c| show(s.as_bytes(), c))
        .collect();
    Some((found.start + 1, found.end, captures))
}

/// `string.match(s, p)`: the captures, or the whole match without any.
fn lua_match(s: &str, p: &str) -> Option<Vec<String>> {
    let found = find(s.as_bytes(), p.as_bytes(), 0).unwrap()?;
    let values = (0..found.value_count())
        .map(|i| show(s.as_bytes(), &found.capture(i).unwrap()))
        .collect();
    Some(values)
}

fn first(s: &str, p: &str) -> Option<String> {
    lua_match(s, p).map(|mut values| values.remove(0))
}

fn err(s: &str, p: &str) -> PatternError {
    find(s.as_bytes(), p.as_bytes(), 0).unwrap_err()
}

/// Lua 5.1's `gsub` loop over [`match_at_budgeted`], with a replacement
/// string where `%0`..`%9` insert captures and `%x` inserts `x`.
fn gsub(s: &[u8], p: &[u8], repl: &[u8]) -> Result<(Vec<u8>, usize), PatternError> {
    let (anchored, p) = anchor(p);
    let mut budget = Budget::default();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut count = 0;
    loop {
        let found = match_at_budgeted(s, p, pos, &mut budget)?;
        if let Some(found) = &found {
            count += 1;
            expand(s, found, repl, &mut out)?;
        }
        match found {
            Some(found) if found.end > pos => pos = found.end,
            _ if pos < s.len() => {
                out.push(s[pos]);
                pos += 1;
            }
            _ => break,
        }
        if anchored {
            break;
        }
    }
    out.extend_from_slice(&s[pos..]);
    Ok((out, count))
}

fn expand(s: &[u8], found: &Match, repl: &[u8], out: &mut Vec<u8>) -> Result<(), PatternError> {
    let mut bytes = repl.iter();
    while let Some(&byte) = bytes.next() {
        if byte != b'%' {
            out.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'0') => out.extend_from_slice(&s[found.start..found.end]),
            Some(&d) if d.is_ascii_digit() => match found.capture(usize::from(d - b'1'))? {
                Capture::Span(range) => out.extend_from_slice(&s[range]),
                Capture::Position(at) => out.extend_from_slice(format!("{}", at + 1).as_bytes()),
            },
            Some(&other) => out.push(other),
            None => {}
        }
    }
    Ok(())
}

fn lua_gsub(s: &str, p: &str, repl: &str) -> (String, usize) {
    let (out, count) = gsub(s.as_bytes(), p.as_bytes(), repl.as_bytes()).unwrap();
    (String::from_utf8(out).unwrap(), count)
}

/// Lua 5.1's `gmatch` loop: no anchor handling, empty matches step by one.
fn gmatch(s: &str, p: &str) -> Vec<Vec<String>> {
    let mut results = Vec::new();
    let mut pos = 0;
    while pos <= s.len() {
        match match_at(s.as_bytes(), p.as_bytes(), pos).unwrap() {
            Some(found) => {
                pos = if found.end == pos { pos + 1 } else { found.end };
                let values = (0..found.value_count())
                    .map(|i| show(s.as_bytes(), &found.capture(i).unwrap()))
                    .collect();
                results.push(values);
            }
            None => pos += 1,
        }
    }
    results
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| String::from(*s)).collect()
}

#[test]
fn literal_and_dot() {
    assert_eq!(lua_find("hello world", "o w"), Some((5, 7, vec![])));
    assert_eq!(lua_find("hello", "xyz"), None);
    assert_eq!(lua_find("hello", ""), Some((1, 0, vec![])));
    assert_eq!(lua_find("", ""), Some((1, 0, vec![])));
    assert_eq!(first("abc", "b."), Some("bc".into()));
    assert_eq!(first("a\nb", "a.b"), Some("a\nb".into()));
    assert_eq!(first("ab", "b.."), None);
}

#[test]
fn init_positions() {
    let s = b"abcabc";
    assert_eq!(find(s, b"abc", 1).unwrap().unwrap().start, 3);
    assert_eq!(find(s, b"", 6).unwrap().unwrap().start, 6);
    assert_eq!(find(s, b"a", 6).unwrap(), None);
    assert_eq!(find(s, b"^abc", 3).unwrap().unwrap().start, 3);
    assert_eq!(find(s, b"^abc", 1).unwrap(), None);
    assert_eq!(match_at(s, b"abc", 7).unwrap(), None);
}

#[test]
fn classes() {
    assert_eq!(first("  x1Y_", "%a+"), Some("x".into()));
    assert_eq!(first("ab12cd", "%d+"), Some("12".into()));
    assert_eq!(first("ABcdEF", "%l+"), Some("cd".into()));
    assert_eq!(first("abCDef", "%u+"), Some("CD".into()));
    assert_eq!(first("ab, cd", "%p"), Some(",".into()));
    assert_eq!(
        first("a \t\n\r\x0b\x0cb", "%s+"),
        Some(" \t\n\r\x0b\x0c".into())
    );
    assert_eq!(first("a\x01\x7fb", "%c+"), Some("\x01\x7f".into()));
    assert_eq!(first("--a1B2--", "%w+"), Some("a1B2".into()));
    assert_eq!(first("xyzDEADbeefg", "%x+"), Some("DEADbeef".into()));
    assert_eq!(first("ab\0cd", "%z"), Some("\0".into()));
    assert_eq!(first("abc123", "%A+"), Some("123".into()));
    assert_eq!(first("123abc", "%D+"), Some("abc".into()));
    assert_eq!(first("  ab  ", "%S+"), Some("ab".into()));
    assert_eq!(first("\0\0ab", "%Z+"), Some("ab".into()));
    assert_eq!(first("abc", "%W"), None);
    // Escaped non-letters (and unknown letters) are literals.
    assert_eq!(first("a.b", "%."), Some(".".into()));
    assert_eq!(first("50%", "%%"), Some("%".into()));
    assert_eq!(first("a(b)", "%(%a%)"), Some("(b)".into()));
    assert_eq!(first("qgG", "%g"), Some("g".into()));
    assert_eq!(first("qgG", "%G"), Some("G".into()));
}

#[test]
fn high_bytes_are_in_no_class() {
    let s = "é€"; // bytes 0xC3 0xA9 0xE2 0x82 0xAC
    for class in ["%a", "%c", "%d", "%l", "%p", "%s", "%u", "%w", "%x", "%z"] {
        assert_eq!(
            find(s.as_bytes(), class.as_bytes(), 0).unwrap(),
            None,
            "{class}"
        );
    }
    let all = find(s.as_bytes(), b"%A+", 0).unwrap().unwrap();
    assert_eq!((all.start, all.end), (0, 5));
    let found = find(b"ab\xff\x80", b"[\x80-\xff]+", 0).unwrap().unwrap();
    assert_eq!((found.start, found.end), (2, 4));
    let found = find(b"\xe9t\xe9", b"%w", 0).unwrap().unwrap();
    assert_eq!(found.start, 1);
    assert_eq!(lua_find("naïve", "ï"), Some((3, 4, vec![])));
}

#[test]
fn sets() {
    assert_eq!(first("hello", "[aeiou]+"), Some("e".into()));
    assert_eq!(first("hello", "[^aeiou]+"), Some("h".into()));
    assert_eq!(first("abc123", "[0-9]+"), Some("123".into()));
    // A '-' next to the ']' is a literal, not a range.
    assert_eq!(first("x-y", "[a-]"), Some("-".into()));
    assert_eq!(first("x-y", "[x-]+"), Some("x-".into()));
    assert_eq!(first("-", "[-a]"), Some("-".into()));
    assert_eq!(first("a]b", "[]]"), Some("]".into()));
    assert_eq!(first("a]b", "[^]]+"), Some("a".into()));
    assert_eq!(first("a^b", "[b^]+"), Some("^b".into()));
    assert_eq!(first("a]b", "[%]]"), Some("]".into()));
    assert_eq!(first("a1 b", "[%d%s]+"), Some("1 ".into()));
    assert_eq!(first("ab-", "[%a-]+"), Some("ab-".into()));
    assert_eq!(first("az", "[z-a]"), None);
    assert_eq!(first("%a", "[%%]"), Some("%".into()));
    assert_eq!(first("abc", "[^%a]"), None);
}

#[test]
fn quantifiers() {
    assert_eq!(first("aaab", "a*"), Some("aaa".into()));
    assert_eq!(first("baaa", "a*"), Some("".into()));
    assert_eq!(first("baaa", "a+"), Some("aaa".into()));
    assert_eq!(first("aaab", "a-b"), Some("aaab".into()));
    assert_eq!(first("aaa", "a-"), Some("".into()));
    assert_eq!(first("<a><b>", "<.->"), Some("<a>".into()));
    assert_eq!(first("<a><b>", "<.*>"), Some("<a><b>".into()));
    assert_eq!(first("color", "colou?r"), Some("color".into()));
    assert_eq!(first("colour", "colou?r"), Some("colour".into()));
    assert_eq!(first("ab", "a?b?c?"), Some("ab".into()));
    assert_eq!(first("aaa", "a?a?a?aaa"), Some("aaa".into()));
    assert_eq!(first("x  y", "x%s*y"), Some("x  y".into()));
    assert_eq!(first("  x", "^%s*(.-)%s*$"), Some("x".into()));
    // A quantifier at the start is a literal byte.
    assert_eq!(first("a*b", "*"), Some("*".into()));
    assert_eq!(first("a+b", "a+"), Some("a".into()));
    assert_eq!(first("++", "++"), Some("++".into()));
}

#[test]
fn anchors() {
    assert_eq!(anchor(b"^ab"), (true, &b"ab"[..]));
    assert_eq!(anchor(b"ab"), (false, &b"ab"[..]));
    assert_eq!(anchor(b""), (false, &b""[..]));
    assert_eq!(lua_find("hello", "^h"), Some((1, 1, vec![])));
    assert_eq!(lua_find("hello", "^e"), None);
    assert_eq!(lua_find("hello", "o$"), Some((5, 5, vec![])));
    assert_eq!(lua_find("hello", "l$"), None);
    assert_eq!(lua_find("hello", "^hello$"), Some((1, 5, vec![])));
    assert_eq!(lua_find("", "^$"), Some((1, 0, vec![])));
    // '$' in the middle and '^' after the start are literals.
    assert_eq!(lua_find("a$b", "$b"), Some((2, 3, vec![])));
    assert_eq!(lua_find("a^b", "a^"), Some((1, 2, vec![])));
    assert_eq!(lua_find("a^b", "^^"), None);
    assert_eq!(lua_find("^b", "^^"), Some((1, 1, vec![])));
    // match_at does not strip '^' (gmatch treats it as a literal).
    assert_eq!(match_at(b"^a", b"^a", 0).unwrap().map(|m| m.end), Some(2));
    assert_eq!(match_at(b"a", b"^a", 0).unwrap(), None);
}

#[test]
fn captures() {
    assert_eq!(
        lua_find("hello world", "(o)(r)"),
        Some((8, 9, strings(&["o", "r"])))
    );
    assert_eq!(
        lua_match("key = value", "(%w+)%s*=%s*(%w+)"),
        Some(strings(&["key", "value"]))
    );
    assert_eq!(
        lua_match("abc", "((a)(b))"),
        Some(strings(&["ab", "a", "b"]))
    );
    assert_eq!(lua_match("abc", "()b()"), Some(strings(&["@2", "@3"])));
    assert_eq!(lua_match("abc", "()"), Some(strings(&["@1"])));
    assert_eq!(lua_match("", "()"), Some(strings(&["@1"])));
    assert_eq!(lua_match("abc", "a(.-)c"), Some(strings(&["b"])));
    assert_eq!(lua_match("abc", "a()"), Some(strings(&["@2"])));
    assert_eq!(
        lua_match("ab", "(a*(.)%w(%s*))"),
        Some(strings(&["ab", "a", ""]))
    );
    // Captures undone by backtracking do not leak into the result.
    assert_eq!(lua_match("aab", "(a)b"), Some(strings(&["a"])));
    assert_eq!(lua_match("xaby", "(a)(c?)"), Some(strings(&["a", ""])));
    assert_eq!(lua_match("xacy", "(a)(c?)"), Some(strings(&["a", "c"])));
    let found = find(b"abc", b"b", 0).unwrap().unwrap();
    assert!(found.captures.is_empty());
    assert_eq!(found.capture(0), Ok(Capture::Span(1..2)));
    assert_eq!(found.capture(1), Err(PatternError::InvalidCaptureIndex));
    let found = find(b"abc", b"(b)", 0).unwrap().unwrap();
    assert_eq!(found.capture(1), Err(PatternError::InvalidCaptureIndex));
}

#[test]
fn thirty_two_captures_is_the_limit() {
    let s = "a".repeat(40);
    let ok = "(a)".repeat(MAX_CAPTURES);
    assert_eq!(lua_match(&s, &ok).unwrap().len(), MAX_CAPTURES);
    let too_many = "(a)".repeat(MAX_CAPTURES + 1);
    assert_eq!(err(&s, &too_many), PatternError::TooManyCaptures);
    assert_eq!(err(&s, &"()".repeat(33)), PatternError::TooManyCaptures);
}

#[test]
fn back_references() {
    assert_eq!(
        lua_match("say \"hi\" or 'yo'", "([\"'])(.-)%1"),
        Some(strings(&["\"", "hi"]))
    );
    assert_eq!(first("abab", "(ab)%1"), Some("ab".into()));
    assert_eq!(lua_find("xabab", "(ab)%1"), Some((2, 5, strings(&["ab"]))));
    assert_eq!(lua_find("abac", "(ab)%1"), None);
    assert_eq!(lua_find("aa", "(a*)%1$"), Some((1, 2, strings(&["a"]))));
    assert_eq!(lua_find("", "()%1"), None); // a position never matches back
    assert_eq!(err("aa", "(a)%2"), PatternError::InvalidCaptureIndex);
    assert_eq!(err("aa", "(a%1)"), PatternError::InvalidCaptureIndex);
    assert_eq!(err("aa", "%0"), PatternError::InvalidCaptureIndex);
    assert_eq!(err("aa", "%1"), PatternError::InvalidCaptureIndex);
}

#[test]
fn balance() {
    assert_eq!(first("f(a(b)c) d", "%b()"), Some("(a(b)c)".into()));
    assert_eq!(first("x[[y]]", "%b[]"), Some("[[y]]".into()));
    assert_eq!(first("(((", "%b()"), None);
    assert_eq!(first("(a)(b)", "%b()%b()"), Some("(a)(b)".into()));
    assert_eq!(first("'a'b'", "%b''"), Some("'a'".into()));
    assert_eq!(
        first("if x then y end end", "%bie"),
        Some("if x the".into())
    );
    assert_eq!(lua_find("abc", "%b()"), None);
    assert_eq!(err("(a)", "%b("), PatternError::MissingArgsForB);
    assert_eq!(err("(a)", "%b"), PatternError::MissingArgsForB);
    assert_eq!(lua_match("a(b)c", "(%b())"), Some(strings(&["(b)"])));
}

#[test]
fn frontier() {
    let words = gmatch("THE (quick) fox", "%f[%a]%a+");
    assert_eq!(
        words,
        vec![strings(&["THE"]), strings(&["quick"]), strings(&["fox"])]
    );
    assert_eq!(lua_find("hello", "%f[%a]"), Some((1, 0, vec![])));
    assert_eq!(lua_find("hello", "%f[%A]"), Some((6, 5, vec![])));
    assert_eq!(lua_find("THE (quick) fox", "%f[%l]"), Some((6, 5, vec![])));
    assert_eq!(lua_find("ab", "%f[%z]"), Some((3, 2, vec![])));
    assert_eq!(lua_find("", "%f[%z]"), None);
    assert_eq!(lua_find("", "%f[^%z]"), None);
    assert_eq!(lua_find("a", "%f[^%z]"), Some((1, 0, vec![])));
    assert_eq!(
        lua_gsub("the cat", "%f[%w]%w+", "<%0>"),
        ("<the> <cat>".into(), 2)
    );
    assert_eq!(err("a", "%fa"), PatternError::MissingBracketAfterF);
    assert_eq!(err("a", "%f"), PatternError::MissingBracketAfterF);
    assert_eq!(err("a", "%f[a"), PatternError::MissingBracket);
}

#[test]
fn errors_and_messages() {
    assert_eq!(err("a", "%"), PatternError::EndsWithPercent);
    assert_eq!(err("a", "a%"), PatternError::EndsWithPercent);
    assert_eq!(err("a", "[a"), PatternError::MissingBracket);
    assert_eq!(err("a", "[]"), PatternError::MissingBracket);
    assert_eq!(err("a", "[^]"), PatternError::MissingBracket);
    assert_eq!(err("a", "[a%]"), PatternError::MissingBracket);
    assert_eq!(err("a", "[a%"), PatternError::MissingBracket);
    assert_eq!(err("a", ")"), PatternError::InvalidPatternCapture);
    assert_eq!(err("a", "a)"), PatternError::InvalidPatternCapture);
    assert_eq!(err("a", "(a"), PatternError::UnfinishedCapture);
    assert_eq!(err("a", "(()"), PatternError::UnfinishedCapture);
    // Errors are lazy, like Lua's: unreached parts are never checked.
    assert_eq!(lua_find("abc", "x["), None);
    assert_eq!(lua_find("abc", "x%"), None);
    // ... but a reached one is: 'b' matches, then "%b" lacks arguments.
    assert_eq!(err("abc", "b%b"), PatternError::MissingArgsForB);
    assert_eq!(lua_find("abc", "x%b"), None);
    let messages = [
        (
            PatternError::EndsWithPercent,
            "malformed pattern (ends with '%')",
        ),
        (
            PatternError::MissingBracket,
            "malformed pattern (missing ']')",
        ),
        (
            PatternError::MissingBracketAfterF,
            "missing '[' after '%f' in pattern",
        ),
        (PatternError::InvalidCaptureIndex, "invalid capture index"),
        (
            PatternError::InvalidPatternCapture,
            "invalid pattern capture",
        ),
        (PatternError::UnfinishedCapture, "unfinished capture"),
        (PatternError::TooManyCaptures, "too many captures"),
        (PatternError::TooComplex, "pattern too complex"),
        (PatternError::MissingArgsForB, "unbalanced pattern"),
    ];
    for (error, message) in messages {
        assert_eq!(error.message(), message);
        assert_eq!(format!("{error}"), message);
    }
}

#[test]
fn zero_bytes() {
    // The subject may hold zero bytes; the pattern ends at its first one.
    assert_eq!(lua_find("a\0b", "%z"), Some((2, 2, vec![])));
    assert_eq!(lua_find("a\0b", "b"), Some((3, 3, vec![])));
    assert_eq!(lua_find("abc", "\0x"), Some((1, 0, vec![])));
    assert_eq!(lua_find("abc", "c\0x"), Some((3, 3, vec![])));
    assert_eq!(find(b"abc", b"[\0]", 0), Err(PatternError::MissingBracket));
    assert_eq!(find(b"abc", b"[a\0]", 0), Err(PatternError::MissingBracket));
    assert_eq!(find(b"abc", b"%\0", 0), Err(PatternError::EndsWithPercent));
    assert!(is_plain(b"abc"));
    assert!(is_plain(b"a\0.b"));
    assert!(!is_plain(b"a.b"));
    assert!(!is_plain(b"a-b"));
    assert!(!is_plain(b"^"));
    assert!(is_plain(b"a]b"));
}

#[test]
fn gsub_iteration() {
    assert_eq!(lua_gsub("hello world", "o", "0"), ("hell0 w0rld".into(), 2));
    assert_eq!(
        lua_gsub("hello world", "(%w+)", "<%1>"),
        ("<hello> <world>".into(), 2)
    );
    assert_eq!(
        lua_gsub("hello world", "%w+", "%0 %0"),
        ("hello hello world world".into(), 2)
    );
    assert_eq!(lua_gsub("abc", "", "-"), ("-a-b-c-".into(), 4));
    assert_eq!(lua_gsub("abc", "x*", "-"), ("-a-b-c-".into(), 4));
    assert_eq!(lua_gsub("", "x*", "-"), ("-".into(), 1));
    assert_eq!(lua_gsub("aaa", "^a", "b"), ("baa".into(), 1));
    assert_eq!(lua_gsub("hello", "l+", "L"), ("heLo".into(), 1));
    assert_eq!(lua_gsub("abc", "%w", "%%"), ("%%%".into(), 3));
    assert_eq!(lua_gsub("abc", "()", "%1"), ("1a2b3c4".into(), 4));
    assert_eq!(
        lua_gsub("  trim  ", "^%s*(.-)%s*$", "%1"),
        ("trim".into(), 1)
    );
    assert_eq!(
        gsub(b"abc", b"(b)", b"%2"),
        Err(PatternError::InvalidCaptureIndex)
    );
    assert_eq!(lua_gsub("abc", "b", "[%1]"), ("a[b]c".into(), 1));
}

#[test]
fn gmatch_iteration() {
    assert_eq!(
        gmatch("one two  three", "%a+"),
        vec![strings(&["one"]), strings(&["two"]), strings(&["three"])]
    );
    assert_eq!(
        gmatch("k1=v1, k2=v2", "(%w+)=(%w+)"),
        vec![strings(&["k1", "v1"]), strings(&["k2", "v2"])]
    );
    assert_eq!(gmatch("ab", "x*").len(), 3);
    assert_eq!(gmatch("a^a", "^a"), vec![strings(&["^a"])]);
}

#[test]
fn deep_nesting_is_too_complex() {
    let s = "a".repeat(1000);
    let optional = "a?".repeat(MAX_DEPTH + 10);
    assert_eq!(err(&s, &optional), PatternError::TooComplex);
    let shallow = "a?".repeat(MAX_DEPTH / 2);
    assert!(lua_find(&s, &shallow).is_some());
    // Unbalanced '(' runs out of captures before depth.
    assert_eq!(err(&s, &"(".repeat(1000)), PatternError::TooManyCaptures);
    let lazy = ".-".repeat(1000);
    assert_eq!(err(&s, &lazy), PatternError::TooComplex);
}

#[test]
fn exponential_backtracking_hits_the_step_budget() {
    let s = "a".repeat(200);
    let hostile = format!("{}b", ".-".repeat(20));
    assert_eq!(err(&s, &hostile), PatternError::TooComplex);
    let greedy = format!("{}b", "a*".repeat(30));
    assert_eq!(err(&s, &greedy), PatternError::TooComplex);
    // A shared budget runs dry across calls.
    let mut budget = Budget::new(10);
    let mut last = Ok(None);
    for _ in 0..20 {
        last = find_budgeted(b"aaaa", b"a", 0, &mut budget);
    }
    assert_eq!(last, Err(PatternError::TooComplex));
    assert_eq!(budget.remaining(), 0);
}

#[test]
fn long_linear_matches_fit_the_budget() {
    let s = "ab".repeat(100_000);
    let found = find(s.as_bytes(), b"(a)(b)b", 0).unwrap();
    assert_eq!(found, None);
    let found = find(s.as_bytes(), b".*$", 0).unwrap().unwrap();
    assert_eq!(found.end, s.len());
    let (out, count) = gsub(s.as_bytes(), b"a", b"").unwrap();
    assert_eq!((out.len(), count), (100_000, 100_000));
}

#[test]
fn hostile_patterns_never_panic() {
    let alphabet = b"%()[]^$*+-?.ab0fz\0";
    let subjects: [&[u8]; 4] = [b"", b"a", b"ab(a)]b\0", b"\xff%[]"];
    // Every pattern of up to four bytes from the alphabet.
    let mut pattern = Vec::new();
    let n = alphabet.len();
    for len in 0..=4u32 {
        for mut code in 0..n.pow(len) {
            pattern.clear();
            for _ in 0..len {
                pattern.push(alphabet[code % n]);
                code /= n;
            }
            for subject in subjects {
                let _ = find(subject, &pattern, 0);
                for pos in 0..=subject.len() + 1 {
                    let _ = match_at(subject, &pattern, pos);
                }
            }
        }
    }
}

#[test]
fn deepest_match_fits_a_small_stack() {
    // Each nesting level mixes the recursive items (capture, '?', '*', '-',
    // '+'); MAX_DEPTH of them must fit well inside 256 KiB even unoptimized.
    let body = "(a?b*c-d+)".repeat(MAX_CAPTURES);
    let pattern = format!("{body}x");
    let subject = "ad".repeat(MAX_DEPTH);
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let deep = find(subject.as_bytes(), pattern.as_bytes(), 0);
            let many_a = "a".repeat(1000);
            let deeper = find(many_a.as_bytes(), "a?".repeat(1000).as_bytes(), 0);
            (deep, deeper)
        })
        .unwrap();
    let (deep, deeper) = worker.join().unwrap();
    assert!(matches!(deep, Ok(None) | Err(PatternError::TooComplex)));
    assert_eq!(deeper, Err(PatternError::TooComplex));
}
