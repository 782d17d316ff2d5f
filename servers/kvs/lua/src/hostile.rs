//! Hostile scripts: every library function called with extreme
//! arguments, and token soup. The oracle, after every script: no panic,
//! an answer (a value or an error) within a step budget, and a state that
//! still runs a script correctly. Seeded; the seed of a failure is in its
//! message (`LUA_HOSTILE_SEED` repeats it).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{Error, Host, Lua, NativeResult, Value};

/// A host that stops a script after `budget` ticks (of 1,024 steps) and
/// grants at most 1 MiB to one string or table.
struct Bounded {
    ticks: u32,
    budget: u32,
}

impl Host for Bounded {
    fn call(&mut self, _lua: &mut Lua, _id: u32, args: Vec<Value>) -> NativeResult {
        Ok(args)
    }

    fn tick(&mut self, _lua: &mut Lua) -> Result<(), Error> {
        self.ticks += 1;
        if self.ticks > self.budget {
            let mut e = Error::message(b"budget spent");
            e.fatal = true;
            return Err(e);
        }
        Ok(())
    }

    fn room_for(&mut self, _lua: &Lua, bytes: usize) -> bool {
        bytes <= 1 << 20
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const EXTREMES: [&str; 18] = [
    "0", "-1", "1", "2", "2^31", "-2^31", "2^31 - 1", "2^32 + 1", "2^53", "-2^63", "2^63", "1/0",
    "-1/0", "0/0", "1e308", "0.5", "'x'", "nil",
];

const CALLS: [&str; 34] = [
    "string.rep('ab', {})",
    "string.sub('hello', {}, {})",
    "string.byte('hello', {}, {})",
    "string.char({})",
    "string.format('%{}d', 1)",
    "string.format('%d %x %c %5.{}f', {}, {}, {}, 1)",
    "string.find('hello', 'l', {})",
    "string.gsub('hello', 'l', 'L', {})",
    "string.upper({})",
    "table.insert(t, {}, 1)",
    "table.remove(t, {})",
    "table.concat(t, ',', {}, {})",
    "unpack(t, {}, {})",
    "select({}, 1, 2, 3)",
    "table.sort(t)",
    "math.random({})",
    "math.random({}, {})",
    "math.randomseed({})",
    "math.ldexp(1, {})",
    "math.fmod({}, {})",
    "math.floor({})",
    "math.frexp({})",
    "tonumber('10', {})",
    "tostring({})",
    "bit.lshift(1, {})",
    "bit.tohex({}, {})",
    "struct.pack('i{}', 1)",
    "cjson.encode({})",
    "cmsgpack.pack({})",
    "string.rep('x', {}, ',')",
    "t[{}] = 1",
    "local a = ({}) .. ''",
    "for i = {}, {} do end",
    "local s = string.rep('a', 100) for i = 1, {} do s = s .. s end",
];

const TOKENS: [&str; 40] = [
    "local", "function", "end", "if", "then", "else", "for", "in", "do", "while", "repeat",
    "until", "return", "break", "a", "b", "t", "f", "=", "==", "(", ")", "{", "}", "[", "]", ",",
    ".", "..", "...", ":", "#", "+", "-", "^", "'s'", "1", "2^63", "nil", "not",
];

fn fill(r: &mut Rng, template: &str) -> String {
    let mut out = String::new();
    let mut parts = template.split("{}").peekable();
    while let Some(part) = parts.next() {
        out.push_str(part);
        if parts.peek().is_some() {
            out.push_str(r.pick(&EXTREMES));
        }
    }
    out
}

fn check(lua: &mut Lua, src: &str, seed: u64) {
    let f = match lua.load(src.as_bytes(), b"h") {
        Ok(f) => f,
        Err(_) => return,
    };
    let mut host = Bounded {
        ticks: 0,
        budget: 200,
    };
    let _ = lua.call(&mut host, &f, Vec::new());
    lua.collect(&[]);
    // The state still runs a script, and right.
    let g = lua
        .load(
            b"local t = {1, 2, 3} table.insert(t, 4) return #t + tonumber('1')",
            b"h",
        )
        .unwrap_or_else(|e| panic!("seed {seed}: {:?} after {src}", e.value));
    let r = lua.call(
        &mut Bounded {
            ticks: 0,
            budget: 200,
        },
        &g,
        Vec::new(),
    );
    assert!(
        matches!(r.as_deref(), Ok([Value::Num(n)]) if *n == 5.0),
        "seed {seed}: the state is broken after {src}: {r:?}"
    );
}

fn seed() -> u64 {
    std::env::var("LUA_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

#[test]
fn library_calls_with_extreme_arguments() {
    let seed = seed();
    std::eprintln!("hostile: seed {seed} (LUA_HOSTILE_SEED={seed} repeats it)");
    let mut r = Rng(seed);
    let mut lua = Lua::new(seed);
    // Every template with every value first, then random mixes.
    for call in CALLS {
        for x in EXTREMES {
            let src = format!("local t = {{3, 1, 2}} {}", call.replace("{}", x));
            check(&mut lua, &src, seed);
        }
    }
    for _ in 0..2000 {
        let call = r.pick(&CALLS);
        let src = format!("local t = {{3, 1, 2, nil, 5}} {}", fill(&mut r, call));
        check(&mut lua, &src, seed);
    }
}

#[test]
fn token_soup_and_random_bytes() {
    let seed = seed();
    std::eprintln!("hostile: seed {seed} (LUA_HOSTILE_SEED={seed} repeats it)");
    let mut r = Rng(seed);
    let mut lua = Lua::new(seed);
    for _ in 0..3000 {
        let n = 1 + r.next() % 40;
        let src: Vec<&str> = (0..n).map(|_| r.pick(&TOKENS)).collect();
        check(&mut lua, &src.join(" "), seed);
    }
    for _ in 0..500 {
        let n = r.next() % 64;
        let bytes: Vec<u8> = (0..n).map(|_| (r.next() % 256) as u8).collect();
        check(&mut lua, &String::from_utf8_lossy(&bytes), seed);
    }
}
