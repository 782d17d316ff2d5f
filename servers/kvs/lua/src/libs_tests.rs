//! The libraries Redis embeds besides Lua's own (`bit`, `struct`,
//! `cjson`, `cmsgpack`), checked against Redis 7.0.15: every expectation in
//! [`REDIS`] is the answer a Debian redis-server 7.0.15 gave to the same
//! script (`EVAL` of [`script`] with the expression in it), results joined
//! by ` | ` after `pcall`'s status, with bytes outside letters, digits,
//! punctuation and space written `\<decimal>`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{Error, Host, Lua, NativeResult, Value};

/// A host with no functions, that refuses allocations over `limit`.
struct Limited {
    limit: usize,
}

impl Host for Limited {
    fn call(&mut self, _lua: &mut Lua, _id: u32, args: Vec<Value>) -> NativeResult {
        Ok(args)
    }

    fn room_for(&mut self, _lua: &Lua, bytes: usize) -> bool {
        bytes <= self.limit
    }
}

/// The script Redis ran: `expr` is called under `pcall` on line 3 of a
/// chunk named `user_script` (so that error positions match Redis's).
fn script(expr: &str) -> String {
    format!(
        "local function s(v) if type(v)=='string' then return (string.gsub(v, '[^%w%p ]', function(c) return string.format('\\\\%d', c:byte()) end)) elseif type(v)=='userdata' then return 'UD' else return tostring(v) end end\n\
         local function pack(...) return select('#', ...), {{...}} end\n\
         local n, r = pack(pcall(function() return {expr} end))\n\
         local o = {{}} for i=1,n do o[#o+1] = s(r[i]) end return table.concat(o, ' | ')"
    )
}

/// Runs `src` in a fresh interpreter whose host allows `limit` bytes at
/// once; its first result as a string, or the error's text.
fn run_limited(src: &str, limit: usize) -> String {
    let mut lua = Lua::new(7);
    let f = match lua.load(src.as_bytes(), b"user_script") {
        Ok(f) => f,
        Err(e) => return format!("load error: {}", String::from_utf8_lossy(&e.text())),
    };
    let result = lua.call(&mut Limited { limit }, &f, Vec::new());
    lua.collect(&[]);
    match result {
        Ok(values) => match values.first() {
            Some(Value::Str(s)) => String::from_utf8_lossy(s).into_owned(),
            Some(other) => format!("{other:?}"),
            None => String::from("(nothing)"),
        },
        Err(e) => format!("error: {}", String::from_utf8_lossy(&Error::text(&e))),
    }
}

/// `expr`'s results as the Redis script reports them.
fn q(expr: &str) -> String {
    run_limited(&script(expr), usize::MAX)
}

/// Expressions and Redis 7.0.15's answers to them.
const REDIS: &[(&str, &str)] = &[
    (
        r##"bit.tobit(0xffffffff), bit.tobit(2^53+3), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5)"##,
        r##"true | -1 | 2 | 2 | 2 | -2"##,
    ),
    (
        r##"bit.tobit(1/0), bit.tobit(0/0), bit.tobit(-2^31), bit.tobit(2^31), bit.tobit(2^32 + 5)"##,
        r##"true | 0 | 0 | -2147483648 | -2147483648 | 5"##,
    ),
    (
        r##"bit.tobit(' 12 '), bit.tobit('0x10'), bit.tobit(2^52), bit.tobit(-2^52-1), bit.tobit(1e300)"##,
        r##"true | 12 | 16 | 0 | -4 | -2013235812"##,
    ),
    (
        r##"bit.tohex(65535, -4), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, 12), bit.tohex(255, 0), bit.tohex(255, -12)"##,
        r##"true | FFFF | ffffffff | ff | 000000ff |  | 000000FF"##,
    ),
    (
        r##"bit.tohex(255, -2^31), bit.tohex(255, 2^32-1), bit.tohex(-2, -9), bit.tohex(0x12345678, 3)"##,
        r##"true | 000000FF | F | FFFFFFFE | 678"##,
    ),
    (
        r##"bit.tohex(1, nil)"##,
        r##"false | user_script:3: bad argument #2 to 'tohex' (number expected, got nil)"##,
    ),
    (
        r##"bit.tohex()"##,
        r##"false | user_script:3: bad argument #1 to 'tohex' (number expected, got no value)"##,
    ),
    (
        r##"bit.band()"##,
        r##"false | user_script:3: bad argument #1 to 'band' (number expected, got no value)"##,
    ),
    (
        r##"bit.tobit('x')"##,
        r##"false | user_script:3: bad argument #1 to 'tobit' (number expected, got string)"##,
    ),
    (
        r##"bit.tobit({})"##,
        r##"false | user_script:3: bad argument #1 to 'tobit' (number expected, got table)"##,
    ),
    (
        r##"bit.bnot()"##,
        r##"false | user_script:3: bad argument #1 to 'bnot' (number expected, got no value)"##,
    ),
    (
        r##"bit.lshift(1)"##,
        r##"false | user_script:3: bad argument #2 to 'lshift' (number expected, got no value)"##,
    ),
    (
        r##"bit.band(1, {}, 'a')"##,
        r##"false | user_script:3: bad argument #3 to 'band' (number expected, got string)"##,
    ),
    (
        r##"bit.bor(1, 2, nil)"##,
        r##"false | user_script:3: bad argument #3 to 'bor' (number expected, got nil)"##,
    ),
    (
        r##"bit.lshift(1, 33), bit.rshift(-1, 4), bit.arshift(-256, 4), bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.bswap(0x12345678)"##,
        r##"true | 2 | 268435455 | -16 | 1164411171 | 1736516421 | 2018915346"##,
    ),
    (
        r##"bit.bor(1,2,4,8), bit.bxor(7,2,'1'), bit.bnot(0), bit.band(0xff, 0x0f0f, 0xf0f0f3), bit.band(7), bit.bnot(-1)"##,
        r##"true | 15 | 4 | -1 | 3 | 7 | 0"##,
    ),
    (
        r##"bit.rol(1, -1), bit.ror(1, -1), bit.lshift(1,-1), bit.arshift(1, 32), bit.rshift(0x80000000, 31), bit.arshift(0x80000000, 31)"##,
        r##"true | -2147483648 | 2 | -2147483648 | 1 | 1 | -1"##,
    ),
    (
        r##"bit.tohex(bit.tobit(0x7fffffff) + 1), bit.bswap(-1), bit.bswap(1)"##,
        r##"true | 80000000 | -1 | 16777216"##,
    ),
    (
        r##"struct.pack('>i2Bhc3s', 258, 255, -2, 'abc', 'x\0y')"##,
        r##"true | \1\2\255\255\254abcx\0y\0"##,
    ),
    (
        r##"struct.pack('<!4bi', 1, 2)"##,
        r##"true | \1\0\0\0\2\0\0\0"##,
    ),
    (
        r##"struct.pack('c5', 'ab')"##,
        r##"false | user_script:3: bad argument #3 to 'pack' (string too short)"##,
    ),
    (
        r##"struct.pack('c', 'ab'), struct.pack('c0', 'ab')"##,
        r##"true | a | ab"##,
    ),
    (
        r##"struct.pack('y')"##,
        r##"false | user_script:3: bad argument #1 to 'pack' (invalid format option 'y')"##,
    ),
    (
        r##"struct.pack('i33')"##,
        r##"false | user_script:3: integral size 33 is larger than limit of 32"##,
    ),
    (
        r##"struct.pack('!3')"##,
        r##"false | user_script:3: alignment 3 is not a power of 2"##,
    ),
    (
        r##"struct.pack('i99999999999')"##,
        r##"false | user_script:3: integral size overflow"##,
    ),
    (
        r##"struct.size('>!4bi'), struct.size('c10d'), struct.size('!8bdbf'), struct.size('y'), struct.size('!4b!2h')"##,
        r##"true | 8 | 18 | 24 | 0 | 4"##,
    ),
    (
        r##"struct.size('s')"##,
        r##"false | user_script:3: bad argument #1 to 'size' (option 's' has no fixed size)"##,
    ),
    (
        r##"struct.size('c0')"##,
        r##"false | user_script:3: bad argument #1 to 'size' (option 'c0' has no fixed size)"##,
    ),
    (
        r##"struct.size('?')"##,
        r##"false | user_script:3: bad argument #1 to 'size' (invalid format option '?')"##,
    ),
    (
        r##"struct.size('!'), struct.size('x!4i'), struct.size('i0'), struct.size('c2147483647c2147483647c2147483647')"##,
        r##"true | 0 | 8 | 0 | 6442450941"##,
    ),
    (
        r##"struct.unpack('>i2Bh', struct.pack('>i2Bh', 258, 255, -2))"##,
        r##"true | 258 | 255 | -2 | 6"##,
    ),
    (
        r##"struct.unpack('b', 'a', 0)"##,
        r##"false | user_script:3: bad argument #3 to 'unpack' (offset must be 1 or greater)"##,
    ),
    (
        r##"struct.unpack('b', 'a', 2)"##,
        r##"false | user_script:3: bad argument #2 to 'unpack' (data string too short)"##,
    ),
    (
        r##"struct.unpack('bb', 'a')"##,
        r##"false | user_script:3: bad argument #2 to 'unpack' (data string too short)"##,
    ),
    (r##"struct.unpack('', 'a', 100)"##, r##"true | 100"##),
    (r##"struct.unpack('bc0', '\3abc')"##, r##"true | abc | 5"##),
    (r##"struct.unpack('c1c0', '3abc')"##, r##"true | abc | 5"##),
    (
        r##"struct.unpack('c1c0', 'aabc')"##,
        r##"false | user_script:3: format 'c0' needs a previous size"##,
    ),
    (
        r##"struct.unpack('bc0', '\255abc')"##,
        r##"false | user_script:3: bad argument #2 to 'unpack' (data string too short)"##,
    ),
    (
        r##"struct.unpack('c0', 'abc')"##,
        r##"false | user_script:3: format 'c0' needs a previous size"##,
    ),
    (
        r##"struct.unpack('s', 'abc')"##,
        r##"false | user_script:3: unfinished string in data"##,
    ),
    (
        r##"struct.unpack('sb', 'ab\0c')"##,
        r##"true | ab | 99 | 5"##,
    ),
    (
        r##"struct.pack('<i16', -1)"##,
        r##"true | \255\255\255\255\255\255\255\255\0\0\0\0\0\0\0\0"##,
    ),
    (
        r##"struct.unpack('<i16', struct.pack('<i16', -1))"##,
        r##"true | -1 | 17"##,
    ),
    (
        r##"struct.unpack('>i16', string.rep('\255', 16))"##,
        r##"true | -1 | 17"##,
    ),
    (
        r##"struct.unpack('<I16', string.rep('\255', 16))"##,
        r##"true | 1.844674407371e+19 | 17"##,
    ),
    (
        r##"struct.pack('>d<f', 1.5, 0.1)"##,
        r##"true | ?\248\0\0\0\0\0\0\205\204\204="##,
    ),
    (
        r##"struct.unpack('>d<f', struct.pack('>d<f', 1.5, 0.1))"##,
        r##"true | 1.5 | 0.10000000149012 | 13"##,
    ),
    (
        r##"struct.pack('i', 2^63), struct.pack('I',-1), struct.pack('l', 2^64), struct.pack('L', 1e300), struct.pack('l', 0/0)"##,
        r##"true | \0\0\0\0 | \255\255\255\255 | \0\0\0\0\0\0\0\0 | \0\0\0\0\0\0\0\0 | \0\0\0\0\0\0\0\128"##,
    ),
    (
        r##"struct.pack('i', 'abc')"##,
        r##"false | user_script:3: bad argument #2 to 'pack' (number expected, got string)"##,
    ),
    (
        r##"struct.pack('b')"##,
        r##"false | user_script:3: bad argument #2 to 'pack' (number expected, got nil)"##,
    ),
    (
        r##"struct.pack('bbs', 1)"##,
        r##"false | user_script:3: bad argument #3 to 'pack' (number expected, got nil)"##,
    ),
    (
        r##"struct.pack('s', 12), struct.pack('i0', 5), struct.unpack('i0', '')"##,
        r##"true | 12\0 |  | 0 | 1"##,
    ),
    (
        r##"struct.pack('xbxh', 1, 2), struct.pack('!bxh', 1, 2), struct.pack('!2bd', 1, 2)"##,
        r##"true | \0\1\0\2\0 | \1\0\2\0 | \1\0\0\0\0\0\0\0\0@"##,
    ),
    (
        r##"struct.pack('!0bh', 1, 2)"##,
        r##"false | user_script:3: alignment 0 is not a power of 2"##,
    ),
    (
        r##"struct.unpack('b!0h', '\1\0\2')"##,
        r##"false | user_script:3: alignment 0 is not a power of 2"##,
    ),
    (
        r##"struct.pack(' > b ', 1), struct.pack('b\0b', 1, 2)"##,
        r##"true | \1 | \1"##,
    ),
    (
        r##"struct.pack('T', 1), struct.pack('H', 65537), struct.pack('b', 200), struct.pack('>I3', 0x010203)"##,
        r##"true | \1\0\0\0\0\0\0\0 | \1\0 | \200 | \1\2\3"##,
    ),
    (
        r##"struct.unpack('<f', '\0\0\192\127')"##,
        r##"true | nan | 5"##,
    ),
    (
        r##"struct.unpack('!4bi', '\1\0\0\0\2\0\0\0', 1.9)"##,
        r##"true | 1 | 2 | 9"##,
    ),
    (
        r##"struct.unpack('>!4bi', '\1\0\0\0\0\0\0\2')"##,
        r##"true | 1 | 2 | 9"##,
    ),
    (r##"struct.pack('c2', 12345)"##, r##"true | 12"##),
    (
        r##"struct.pack()"##,
        r##"false | user_script:3: bad argument #1 to 'pack' (string expected, got no value)"##,
    ),
    (
        r##"struct.unpack('b')"##,
        r##"false | user_script:3: bad argument #2 to 'unpack' (string expected, got no value)"##,
    ),
    (
        r##"struct.unpack(1, '1')"##,
        r##"false | user_script:3: bad argument #1 to 'unpack' (invalid format option '1')"##,
    ),
    (
        r##"struct.pack('i', true)"##,
        r##"false | user_script:3: bad argument #2 to 'pack' (number expected, got boolean)"##,
    ),
    (
        r##"struct.pack('c2147483647', 'a')"##,
        r##"false | user_script:3: bad argument #3 to 'pack' (string too short)"##,
    ),
    (
        r##"struct.unpack('c2147483647', 'a')"##,
        r##"false | user_script:3: bad argument #2 to 'unpack' (data string too short)"##,
    ),
    (
        r##"select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 8000)))"##,
        r##"true | 7998"##,
    ),
    (
        r##"select('#', struct.unpack(string.rep('b', 7998), string.rep('a', 9000)))"##,
        r##"false | user_script:3: stack overflow (too many results)"##,
    ),
    (
        r##"select('#', struct.unpack(string.rep('b', 7996), string.rep('a', 9000), 1))"##,
        r##"true | 7997"##,
    ),
    (
        r##"select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 9000), 1))"##,
        r##"false | user_script:3: stack overflow (too many results)"##,
    ),
    (
        r##"struct.unpack('>bBhHlLiI', struct.pack('>bBhHlLiI', -1, 255, -300, 60000, -2^40, 2^40, -7, 7))"##,
        r##"true | -1 | 255 | -300 | 60000 | -1099511627776 | 1099511627776 | -7 | 7 | 31"##,
    ),
    (
        r##"struct.unpack('<bBhHlLiI', struct.pack('<bBhHlLiI', -1, 255, -300, 60000, -2^40, 2^40, -7, 7))"##,
        r##"true | -1 | 255 | -300 | 60000 | -1099511627776 | 1099511627776 | -7 | 7 | 31"##,
    ),
    (
        r##"cjson.encode({1,2,{a=1}})"##,
        r##"true | [1,2,{"a":1}]"##,
    ),
    (
        r##"cjson.encode('a"\\/\b\f\n\r\t\1\31\127\128\255 é\0')"##,
        r##"true | "a\"\\\/\b\f\n\r\t\u0001\u001f\u007f\128\255 \195\169\u0000""##,
    ),
    (
        r##"cjson.encode(0.1), cjson.encode(1e20), cjson.encode(-0), cjson.encode(100), cjson.encode(1/3), cjson.encode(2^53)"##,
        r##"true | 0.1 | 1e+20 | -0 | 100 | 0.33333333333333 | 9.007199254741e+15"##,
    ),
    (
        r##"cjson.encode(-1/3), cjson.encode(1e-7), cjson.encode(123456789012), cjson.encode('12')"##,
        r##"true | -0.33333333333333 | 1e-07 | 123456789012 | "12""##,
    ),
    (
        r##"cjson.encode(1/0)"##,
        r##"false | user_script:3: Cannot serialise number: must not be NaN or Inf"##,
    ),
    (
        r##"cjson.encode(0/0)"##,
        r##"false | user_script:3: Cannot serialise number: must not be NaN or Inf"##,
    ),
    (
        r##"cjson.encode({1, 2, -1/0})"##,
        r##"false | user_script:3: Cannot serialise number: must not be NaN or Inf"##,
    ),
    (
        r##"cjson.encode(function() end)"##,
        r##"false | user_script:3: Cannot serialise function: type not supported"##,
    ),
    (
        r##"cjson.encode({f=function() end})"##,
        r##"false | user_script:3: Cannot serialise function: type not supported"##,
    ),
    (
        r##"cjson.encode({[true]=1})"##,
        r##"false | user_script:3: Cannot serialise boolean: table key must be a number or string"##,
    ),
    (
        r##"cjson.encode({[{}]=1})"##,
        r##"false | user_script:3: Cannot serialise table: table key must be a number or string"##,
    ),
    (
        r##"cjson.encode({}), cjson.encode({{{}}}), cjson.encode({[0]=1}), cjson.encode({1, nil, 3})"##,
        r##"true | {} | [[{}]] | {"0":1} | [1,null,3]"##,
    ),
    (
        r##"cjson.encode({[1]=1,[2]=2,[4]=4})"##,
        r##"true | [1,2,null,4]"##,
    ),
    (
        r##"cjson.encode({[1]=1,[12]=2})"##,
        r##"false | user_script:3: Cannot serialise table: excessively sparse array"##,
    ),
    (
        r##"cjson.encode({[11]=2})"##,
        r##"false | user_script:3: Cannot serialise table: excessively sparse array"##,
    ),
    (
        r##"cjson.encode({[10]=2})"##,
        r##"true | [null,null,null,null,null,null,null,null,null,2]"##,
    ),
    (
        r##"cjson.encode({[2^31]=1}), cjson.encode({[1.5]=1}), cjson.encode({[-1]=1})"##,
        r##"true | {"2147483648":1} | {"1.5":1} | {"-1":1}"##,
    ),
    (
        r##"cjson.encode({[1/0]=1})"##,
        r##"false | user_script:3: Cannot serialise number: must not be NaN or Inf"##,
    ),
    (
        r##"cjson.encode(nil), cjson.encode(true), cjson.encode(false), cjson.encode(cjson.null)"##,
        r##"true | null | true | false | null"##,
    ),
    (
        r##"cjson.encode({a=cjson.null, b={cjson.null}})"##,
        r##"true | {"a":null,"b":[null]}"##,
    ),
    (
        r##"cjson.encode()"##,
        r##"false | user_script:3: bad argument #1 to 'encode' (expected 1 argument)"##,
    ),
    (
        r##"cjson.encode(1,2)"##,
        r##"false | user_script:3: bad argument #1 to 'encode' (expected 1 argument)"##,
    ),
    (
        r##"cjson.encode({[1]=1, a=2})"##,
        r##"true | {"1":1,"a":2}"##,
    ),
    (
        r##"cjson.encode({a={}, b={1}})"##,
        r##"true | {"a":{},"b":[1]}"##,
    ),
    (
        r##"(function() local t = {} local c = t for i=1,999 do c[1] = {} c = c[1] end return #cjson.encode(t) end)()"##,
        r##"true | 2000"##,
    ),
    (
        r##"(function() local t = {} local c = t for i=1,1000 do c[1] = {} c = c[1] end return cjson.encode(t) end)()"##,
        r##"false | user_script:3: Cannot serialise, excessive nesting (1001)"##,
    ),
    (
        r##"(function() local t = {} t[1] = t return cjson.encode(t) end)()"##,
        r##"false | user_script:3: Cannot serialise, excessive nesting (1001)"##,
    ),
    (
        r##"(function() local t = {} t.a = t return cjson.encode(t) end)()"##,
        r##"false | user_script:3: Cannot serialise, excessive nesting (1001)"##,
    ),
    (
        r##"(function() cjson.encode_invalid_numbers(true) local r = cjson.encode({1/0, -1/0, 0/0, -(0/0)}) cjson.encode_invalid_numbers('null') local r2 = cjson.encode({1/0, 0/0}) local r3 = cjson.encode_invalid_numbers() cjson.encode_invalid_numbers(false) return r, r2, r3 end)()"##,
        r##"true | [inf,-inf,nan,nan] | [null,null] | null"##,
    ),
    (
        r##"(function() local a = cjson.encode_number_precision(3) local r = cjson.encode({3.14159, 1234567, 0.0001234}) cjson.encode_number_precision(14) return a, r end)()"##,
        r##"true | 3 | [3.14,1.23e+06,0.000123]"##,
    ),
    (
        r##"(function() local a,b,c = cjson.encode_sparse_array(true, 3, 2) local r = cjson.encode({[1]=1,[7]=2}) local r2 = cjson.encode({[3]=1}) local x,y,z = cjson.encode_sparse_array(false, 2, 10) return a,b,c, r, r2, x,y,z end)()"##,
        r##"true | true | 3 | 2 | {"1":1,"7":2} | [null,null,1] | false | 2 | 10"##,
    ),
    (
        r##"(function() cjson.encode_sparse_array(false, 0, 10) local r = cjson.encode({[20]=1}) cjson.encode_sparse_array(false, 2, 10) return r end)()"##,
        r##"true | [null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]"##,
    ),
    (
        r##"(function() local a = cjson.encode_max_depth(2) local ok, e = pcall(cjson.encode, {{{1}}}) local ok2, r = pcall(cjson.encode, {{1}}) cjson.encode_max_depth(1000) return a, e, r end)()"##,
        r##"true | 2 | Cannot serialise, excessive nesting (3) | [[1]]"##,
    ),
    (
        r##"(function() local a = cjson.decode_max_depth(2) local ok, e = pcall(cjson.decode, '[[[1]]]') local ok2, e2 = pcall(cjson.decode, '{"a":{"b":[1]}}') cjson.decode_max_depth(1000) return a, e, e2 end)()"##,
        r##"true | 2 | Found too many nested data structures (3) at character 3 | Found too many nested data structures (3) at character 11"##,
    ),
    (
        r##"(function() local a = cjson.decode_invalid_numbers(false) local t = {} for _, s in ipairs({'01','+1','0x10','inf','-inf','nan','-0','0','1e5','-x','NaN','Infinity', 'i', '-', '[1,-01]'}) do local ok, e = pcall(cjson.decode, s) t[#t+1] = tostring(e) end cjson.decode_invalid_numbers(true) return a, table.concat(t, ' ; ') end)()"##,
        r##"true | false | Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; -0 ; 0 ; 100000 ; Expected value but found invalid number at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid token at character 1 ; Expected value but found invalid number at character 1 ; Expected value but found invalid number at character 4"##,
    ),
    (
        r##"(function() local a = cjson.encode_keep_buffer(false) local b = cjson.encode_keep_buffer('on') return a, b, cjson.encode_keep_buffer() end)()"##,
        r##"true | false | true | true"##,
    ),
    (
        r##"cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision(), cjson.encode_invalid_numbers(), cjson.decode_invalid_numbers(), cjson.encode_keep_buffer()"##,
        r##"true | 1000 | 1000 | 14 | false | true | true"##,
    ),
    (
        r##"cjson.encode_sparse_array()"##,
        r##"true | false | 2 | 10"##,
    ),
    (
        r##"cjson.encode_max_depth(0)"##,
        r##"false | user_script:3: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"##,
    ),
    (
        r##"cjson.encode_max_depth('x')"##,
        r##"false | user_script:3: bad argument #1 to 'encode_max_depth' (number expected, got string)"##,
    ),
    (
        r##"cjson.encode_max_depth(1,2)"##,
        r##"false | user_script:3: bad argument #2 to 'encode_max_depth' (found too many arguments)"##,
    ),
    (
        r##"cjson.encode_number_precision(15)"##,
        r##"false | user_script:3: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"##,
    ),
    (
        r##"cjson.encode_sparse_array(true, -1)"##,
        r##"false | user_script:3: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"##,
    ),
    (
        r##"cjson.encode_sparse_array(true, 1, -1)"##,
        r##"false | user_script:3: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647)"##,
    ),
    (
        r##"cjson.encode_sparse_array(1, 2, 3, 4)"##,
        r##"false | user_script:3: bad argument #4 to 'encode_sparse_array' (found too many arguments)"##,
    ),
    (
        r##"cjson.encode_sparse_array('maybe')"##,
        r##"false | user_script:3: bad argument #1 to 'encode_sparse_array' (invalid option 'maybe')"##,
    ),
    (
        r##"cjson.encode_invalid_numbers('x')"##,
        r##"false | user_script:3: bad argument #1 to 'encode_invalid_numbers' (invalid option 'x')"##,
    ),
    (
        r##"cjson.encode_invalid_numbers({})"##,
        r##"false | user_script:3: bad argument #1 to 'encode_invalid_numbers' (string expected, got table)"##,
    ),
    (
        r##"cjson.encode_keep_buffer(1)"##,
        r##"false | user_script:3: bad argument #1 to 'encode_keep_buffer' (invalid option '1')"##,
    ),
    (
        r##"cjson.decode_max_depth(2^31)"##,
        r##"false | user_script:3: bad argument #1 to 'decode_max_depth' (expected integer between 1 and 2147483647)"##,
    ),
    (
        r##"cjson.decode('{')"##,
        r##"false | user_script:3: Expected object key string but found T_END at character 2"##,
    ),
    (
        r##"cjson.decode('')"##,
        r##"false | user_script:3: Expected value but found T_END at character 1"##,
    ),
    (
        r##"cjson.decode('[1,2')"##,
        r##"false | user_script:3: Expected comma or array end but found T_END at character 5"##,
    ),
    (
        r##"cjson.decode('[1,]')"##,
        r##"false | user_script:3: Expected value but found T_ARR_END at character 4"##,
    ),
    (
        r##"cjson.decode('{"a" 1}')"##,
        r##"false | user_script:3: Expected colon but found T_NUMBER at character 6"##,
    ),
    (
        r##"cjson.decode('{"a":1,}')"##,
        r##"false | user_script:3: Expected object key string but found T_OBJ_END at character 8"##,
    ),
    (
        r##"cjson.decode('{"a":1 "b"}')"##,
        r##"false | user_script:3: Expected comma or object end but found T_STRING at character 8"##,
    ),
    (
        r##"cjson.decode('{1:2}')"##,
        r##"false | user_script:3: Expected object key string but found T_NUMBER at character 2"##,
    ),
    (
        r##"cjson.decode('[1] x')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 5"##,
    ),
    (
        r##"cjson.decode('"abc')"##,
        r##"false | user_script:3: Expected value but found unexpected end of string at character 5"##,
    ),
    (
        r##"cjson.decode('"a\\qb"')"##,
        r##"false | user_script:3: Expected value but found invalid escape code at character 3"##,
    ),
    (
        r##"cjson.decode('"a\\u12"')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 3"##,
    ),
    (
        r##"cjson.decode('"\\ud800"')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\udc00"')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\ud800\\u0041"')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\ud83d\\ude00\\u00e9\\u0000x\\u07ff\\uffff"')"##,
        r##"true | \240\159\152\128\195\169\0x\223\191\239\191\191"##,
    ),
    (
        r##"cjson.decode('"\\"\\\\\\/\\b\\f\\n\\r\\t"')"##,
        r##"true | "\/\8\12\10\13\9"##,
    ),
    (
        r##"cjson.decode('01'), cjson.decode('+1'), cjson.decode('1.'), cjson.decode('0x10'), cjson.decode('-0x10')"##,
        r##"true | 1 | 1 | 1 | 16 | -16"##,
    ),
    (
        r##"cjson.decode('-')"##,
        r##"false | user_script:3: Expected value but found invalid number at character 1"##,
    ),
    (
        r##"cjson.decode('+')"##,
        r##"false | user_script:3: Expected value but found invalid number at character 1"##,
    ),
    (
        r##"cjson.decode('.5')"##,
        r##"false | user_script:3: Expected value but found invalid token at character 1"##,
    ),
    (
        r##"cjson.decode('-.5'), cjson.decode('1e5'), cjson.decode('-0'), cjson.decode('1E+2'), cjson.decode('1.5e-3')"##,
        r##"true | -0.5 | 100000 | -0 | 100 | 0.0015"##,
    ),
    (
        r##"cjson.decode('1.5e')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 4"##,
    ),
    (
        r##"cjson.decode('1.5e+')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 4"##,
    ),
    (
        r##"cjson.decode('inf'), cjson.decode('-inf'), cjson.decode('nan'), cjson.decode('NaN'), cjson.decode('-nan')"##,
        r##"true | inf | -inf | nan | nan | -nan"##,
    ),
    (
        r##"cjson.decode('Infinity'), cjson.decode('-Infinity'), cjson.decode('-inFinitY'), cjson.decode('nan(12)')"##,
        r##"true | inf | -inf | -inf | nan"##,
    ),
    (
        r##"cjson.decode('0x1p4'), cjson.decode('0X1F'), cjson.decode('0x1.8'), cjson.decode('0x1P-2'), cjson.decode('0x.8')"##,
        r##"true | 16 | 31 | 1.5 | 0.25 | 0.5"##,
    ),
    (
        r##"cjson.decode('0x')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 2"##,
    ),
    (
        r##"cjson.decode('nan(')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 4"##,
    ),
    (
        r##"cjson.decode('infin')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 4"##,
    ),
    (
        r##"cjson.decode('inity')"##,
        r##"false | user_script:3: Expected value but found invalid token at character 1"##,
    ),
    (
        r##"cjson.decode('tru')"##,
        r##"false | user_script:3: Expected value but found invalid token at character 1"##,
    ),
    (
        r##"cjson.decode('nul')"##,
        r##"false | user_script:3: Expected value but found invalid token at character 1"##,
    ),
    (
        r##"cjson.decode('truex')"##,
        r##"false | user_script:3: Expected the end but found invalid token at character 5"##,
    ),
    (
        r##"cjson.decode('true'), cjson.decode('false'), cjson.decode('null') == cjson.null, cjson.decode(' 5 ')"##,
        r##"true | true | false | true | 5"##,
    ),
    (r##"cjson.decode('[1]\0xx')[1]"##, r##"true | 1"##),
    (
        r##"cjson.decode('1\0')"##,
        r##"false | user_script:3: JSON parser does not support UTF-16 or UTF-32"##,
    ),
    (
        r##"cjson.decode('\0')"##,
        r##"false | user_script:3: Expected value but found T_END at character 1"##,
    ),
    (
        r##"cjson.decode('a\0')"##,
        r##"false | user_script:3: JSON parser does not support UTF-16 or UTF-32"##,
    ),
    (
        r##"cjson.decode('"a\0b"')"##,
        r##"false | user_script:3: Expected value but found unexpected end of string at character 3"##,
    ),
    (r##"cjson.decode('"\1\255"')"##, r##"true | \1\255"##),
    (
        r##"cjson.decode({})"##,
        r##"false | user_script:3: bad argument #1 to 'decode' (string expected, got table)"##,
    ),
    (
        r##"cjson.decode()"##,
        r##"false | user_script:3: bad argument #1 to 'decode' (expected 1 argument)"##,
    ),
    (
        r##"cjson.decode('1', 2)"##,
        r##"false | user_script:3: bad argument #1 to 'decode' (expected 1 argument)"##,
    ),
    (r##"cjson.decode(12)"##, r##"true | 12"##),
    (
        r##"cjson.decode('1e400'), cjson.decode('0.1e-400'), cjson.decode('123456789012345678901234567890'), cjson.decode('00012.5e-1')"##,
        r##"true | inf | 0 | 1.2345678901235e+29 | 1.25"##,
    ),
    (
        r##"cjson.decode('[1,{"a":null}]')[2].a == cjson.null"##,
        r##"true | true"##,
    ),
    (r##"type(cjson.null)"##, r##"true | userdata"##),
    (r##"#cjson.decode(' \t\r\n[ ] ')"##, r##"true | 0"##),
    (
        r##"cjson.decode('\f1')"##,
        r##"false | user_script:3: Expected value but found invalid token at character 1"##,
    ),
    (
        r##"cjson.decode('[1,2,3,[4]]')[4][1], cjson.decode('{"a":1,"a":2}').a, cjson.decode('{"":3}')['']"##,
        r##"true | 4 | 2 | 3"##,
    ),
    (
        r##"cjson.decode('[1,[2,[3]],{"k":[true,false,null]}]')[3].k[2]"##,
        r##"true | false"##,
    ),
    (
        r##"cjson.decode('{"a":[1,2],"b":{"c":"d"}}').b.c"##,
        r##"true | d"##,
    ),
    (
        r##"cjson.decode(string.rep('[', 1000)..string.rep(']', 1000)) ~= nil"##,
        r##"true | true"##,
    ),
    (
        r##"cjson.decode(string.rep('[', 1001)..string.rep(']', 1001))"##,
        r##"false | user_script:3: Found too many nested data structures (1001) at character 1001"##,
    ),
    (
        r##"cjson.decode(string.rep('{"a":', 1001))"##,
        r##"false | user_script:3: Found too many nested data structures (1001) at character 5001"##,
    ),
    (
        r##"cjson.decode('  '..string.rep('[', 1001))"##,
        r##"false | user_script:3: Found too many nested data structures (1001) at character 1003"##,
    ),
    (
        r##"cjson.decode(string.rep('[', 100000))"##,
        r##"false | user_script:3: Found too many nested data structures (1001) at character 1001"##,
    ),
    (
        r##"cjson.decode('[' .. string.rep('1,', 100) .. ']')"##,
        r##"false | user_script:3: Expected value but found T_ARR_END at character 202"##,
    ),
    (
        r##"cjson.decode('["a", 1 2]')"##,
        r##"false | user_script:3: Expected comma or array end but found T_NUMBER at character 9"##,
    ),
    (
        r##"cjson.decode('[1 :]')"##,
        r##"false | user_script:3: Expected comma or array end but found T_COLON at character 4"##,
    ),
    (
        r##"cjson.decode('{"a":}')"##,
        r##"false | user_script:3: Expected value but found T_OBJ_END at character 6"##,
    ),
    (
        r##"cjson.decode('{"a",}')"##,
        r##"false | user_script:3: Expected colon but found T_COMMA at character 5"##,
    ),
    (
        r##"cjson.decode('}')"##,
        r##"false | user_script:3: Expected value but found T_OBJ_END at character 1"##,
    ),
    (
        r##"cjson.decode(':')"##,
        r##"false | user_script:3: Expected value but found T_COLON at character 1"##,
    ),
    (
        r##"cjson.decode('"\\u00zz"')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\')"##,
        r##"false | user_script:3: Expected value but found invalid escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\u')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\ud800\\')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode('"\\ud800\\udbff"')"##,
        r##"false | user_script:3: Expected value but found invalid unicode escape code at character 2"##,
    ),
    (
        r##"cjson.decode(cjson.encode('a"\\/\b\f\n\r\t\1\31\127\128\255 é\0')) == 'a"\\/\b\f\n\r\t\1\31\127\128\255 é\0'"##,
        r##"true | true"##,
    ),
    (
        r##"cjson.encode(cjson.decode('{"a":[1,2,{"b":null}],"c":"\\u00e9"}'))"##,
        r##"true | {"a":[1,2,{"b":null}],"c":"\195\169"}"##,
    ),
    (
        r##"cjson.encode(cjson.decode('[1e300,-2.5,0,true,false,null,"x"]'))"##,
        r##"true | [1e+300,-2.5,0,true,false,null,"x"]"##,
    ),
    (
        r##"cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1)"##,
        r##"true | \1\255\127\204\128\204\255\205\1\0\205\255\255\206\0\1\0\0\206\255\255\255\255\207\0\0\0\1\0\0\0\0\224\208\223\208\128\209\255\127\209\128\0\210\255\255\127\255\210\128\0\0\0\211\255\255\255\255\127\255\255\255"##,
    ),
    (
        r##"cmsgpack.pack(1.5, 0.1, 1/0, -1/0, -0.0, 2^63, -2^63, 2^64, 1e300, 2^62, -2^62)"##,
        r##"true | \202?\192\0\0\203?\185\153\153\153\153\153\154\202\127\128\0\0\202\255\128\0\0\0\202_\0\0\0\211\128\0\0\0\0\0\0\0\202_\128\0\0\203~7\228<\136\0u\156\207@\0\0\0\0\0\0\0\211\192\0\0\0\0\0\0\0"##,
    ),
    (
        r##"cmsgpack.pack(0/0) == '\203\255\248\0\0\0\0\0\0' or cmsgpack.pack(0/0) == '\203\127\248\0\0\0\0\0\0'"##,
        r##"true | true"##,
    ),
    (
        r##"cmsgpack.pack('', 'abc', string.rep('x', 31)):len(), cmsgpack.pack(string.rep('x', 32)):sub(1,3), cmsgpack.pack(string.rep('x', 256)):sub(1,4), cmsgpack.pack(string.rep('x', 65536)):sub(1,6)"##,
        r##"true | 37 | \217 x | \218\1\0x | \219\0\1\0\0x"##,
    ),
    (
        r##"cmsgpack.pack(string.rep('x', 255)):sub(1,3), cmsgpack.pack(string.rep('x', 65535)):sub(1,4)"##,
        r##"true | \217\255x | \218\255\255x"##,
    ),
    (
        r##"cmsgpack.pack({}), cmsgpack.pack({1,2}), cmsgpack.pack({a=1}), cmsgpack.pack({[1]=1,[3]=3}), cmsgpack.pack(nil, true, false, function() end)"##,
        r##"true | \144 | \146\1\2 | \129\161a\1 | \130\1\1\3\3 | \192\195\194\192"##,
    ),
    (
        r##"cmsgpack.pack()"##,
        r##"false | user_script:3: bad argument #0 to 'pack' (MessagePack pack needs input.)"##,
    ),
    (
        r##"cmsgpack.pack({[1.5]=1}), cmsgpack.pack({[0]=1}), cmsgpack.pack({[-1]=1})"##,
        r##"true | \129\202?\192\0\0\1 | \129\0\1 | \129\255\1"##,
    ),
    (
        r##"cmsgpack.pack(string.rep('x', 16)..'', {1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16})"##,
        r##"true | \176xxxxxxxxxxxxxxxx\220\0\16\1\2\3\4\5\6\7\8\9\10\11\12\13\14\15\16"##,
    ),
    (
        r##"(function() local t = {} for i=1,16 do t[i]=i end t.x = 1 return cmsgpack.pack(t):sub(1,3) end)()"##,
        r##"true | \222\0\17"##,
    ),
    (
        r##"(function() local t = {} for i=1,70000 do t[i]=1 end return cmsgpack.pack(t):sub(1,5), #cmsgpack.pack(t) end)()"##,
        r##"true | \221\0\1\17p | 70005"##,
    ),
    (
        r##"(function() local t = {} for i=1,70000 do t['k'..i]=1 end return cmsgpack.pack(t):sub(1,5) end)()"##,
        r##"true | \223\0\1\17p"##,
    ),
    (
        r##"(function() local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t) end)()"##,
        r##"true | \145\145\145\145\145\145\145\145\145\145\145\145\145\145\145\145\192"##,
    ),
    (
        r##"(function() local t = {} t[1] = t return cmsgpack.pack(t) end)()"##,
        r##"true | \145\145\145\145\145\145\145\145\145\145\145\145\145\145\145\145\192"##,
    ),
    (
        r##"cmsgpack.pack({a={b={}}}), cmsgpack.pack({[true]=false}), cmsgpack.pack({1, nil, 3}), cmsgpack.pack({[2^31]=1}), cmsgpack.pack(cjson.null)"##,
        r##"true | \129\161a\129\161b\144 | \129\195\194 | \130\1\1\3\3 | \129\206\128\0\0\0\1 | \192"##,
    ),
    (
        r##"cmsgpack.unpack(cmsgpack.pack(1, -1, 1.5, 'abc', true, false, nil, 2^40, -2^40, 0.1, -2^63))"##,
        r##"true | 1 | -1 | 1.5 | abc | true | false | nil | 1099511627776 | -1099511627776 | 0.1 | -9.2233720368548e+18"##,
    ),
    (r##"cmsgpack.unpack('')"##, r##"true"##),
    (
        r##"cmsgpack.unpack('\205\1')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\193')"##,
        r##"false | user_script:3: Bad data format in input."##,
    ),
    (
        r##"cmsgpack.unpack('\212\1\1')"##,
        r##"false | user_script:3: Bad data format in input."##,
    ),
    (
        r##"cmsgpack.unpack('\199\1\1\1')"##,
        r##"false | user_script:3: Bad data format in input."##,
    ),
    (
        r##"cmsgpack.unpack('\221\255\255\255\255')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\219\255\255\255\255abc')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\223\255\255\255\255\1')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\129\192\1')"##,
        r##"false | table index is nil"##,
    ),
    (
        r##"cmsgpack.unpack('\129\203\255\248\0\0\0\0\0\0\1')"##,
        r##"false | table index is NaN"##,
    ),
    (
        r##"cmsgpack.unpack('\196\3abc')"##,
        r##"false | user_script:3: Bad data format in input."##,
    ),
    (
        r##"cmsgpack.unpack('\217\3abc'), cmsgpack.unpack('\218\0\3abc'), cmsgpack.unpack('\219\0\0\0\1a')"##,
        r##"true | abc | abc | a"##,
    ),
    (
        r##"cmsgpack.unpack('\207\255\255\255\255\255\255\255\255'), cmsgpack.unpack('\211\128\0\0\0\0\0\0\0'), cmsgpack.unpack('\202\63\192\0\0')"##,
        r##"true | -1 | -9.2233720368548e+18 | 1.5"##,
    ),
    (
        r##"cmsgpack.unpack('\206\255\255\255\255\204\255\208\128\209\128\0\210\128\0\0\0\203\63\248\0\0\0\0\0\0\224\255\160')"##,
        r##"true | 4294967295 | 255 | -128 | -32768 | -2147483648 | 1.5 | -32 | -1 | "##,
    ),
    (
        r##"cmsgpack.unpack('\147\1\2')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\130\1')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\163ab')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack('\220\0')"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack(string.rep('\1', 10000))"##,
        r##"false | user_script:3: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"##,
    ),
    (
        r##"select('#', cmsgpack.unpack(string.rep('\1', 7999)))"##,
        r##"true | 7999"##,
    ),
    (
        r##"select('#', cmsgpack.unpack(string.rep('\1', 8000)))"##,
        r##"false | user_script:3: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"##,
    ),
    (
        r##"cmsgpack.unpack(string.rep('\145', 5000)..'\1')"##,
        r##"false | user_script:3: stack overflow (in function mp_decode_to_lua_array)"##,
    ),
    (
        r##"cmsgpack.unpack(string.rep('\129\1', 5000)..'\1')"##,
        r##"false | user_script:3: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"##,
    ),
    (r##"cmsgpack.unpack_one('\1\2\3')"##, r##"true | 1 | 1"##),
    (
        r##"cmsgpack.unpack_one('\1\2\3', 2)"##,
        r##"true | -1 | 3"##,
    ),
    (r##"cmsgpack.unpack_one('\1\2\3', 3)"##, r##"true | -1"##),
    (
        r##"cmsgpack.unpack_one('\1\2\3', 4)"##,
        r##"false | user_script:3: Start offset 4 greater than input length 3."##,
    ),
    (
        r##"cmsgpack.unpack_one('\1\2\3', -1)"##,
        r##"false | user_script:3: Invalid request to unpack with offset of -1 and limit of 3."##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', 2)"##,
        r##"true | 2 | 1 | 2"##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', 2, 1)"##,
        r##"true | -1 | 2 | 3"##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', 0)"##,
        r##"true | 1 | 2 | 3"##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', 0, 0)"##,
        r##"true | 1 | 2 | 3"##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', 0, 1)"##,
        r##"true | 1"##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', -1)"##,
        r##"false | user_script:3: Invalid request to unpack with offset of 0 and limit of 3."##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3')"##,
        r##"false | user_script:3: bad argument #2 to 'unpack_limit' (number expected, got no value)"##,
    ),
    (
        r##"cmsgpack.unpack_limit('\1\2\3', 5, 1)"##,
        r##"true | -1 | 2 | 3"##,
    ),
    (
        r##"cmsgpack.unpack()"##,
        r##"false | user_script:3: bad argument #1 to 'unpack' (string expected, got no value)"##,
    ),
    (
        r##"cmsgpack.unpack({})"##,
        r##"false | user_script:3: bad argument #1 to 'unpack' (string expected, got table)"##,
    ),
    (r##"cmsgpack.unpack(12)"##, r##"true | 49 | 50"##),
    (r##"cmsgpack.unpack_one('', 0)"##, r##"true | -1"##),
    (
        r##"cmsgpack.unpack_one('\205\1', 0)"##,
        r##"false | user_script:3: Missing bytes in input."##,
    ),
    (
        r##"cmsgpack.unpack_one('\1\2', 1.7)"##,
        r##"true | -1 | 2"##,
    ),
    (r##"cmsgpack.unpack('\1', 'x')"##, r##"true | 1"##),
    (
        r##"cmsgpack.unpack_one('\1\2', 'x')"##,
        r##"false | user_script:3: bad argument #2 to 'unpack_one' (number expected, got string)"##,
    ),
    (
        r##"cmsgpack.unpack_one('\1\2', 2^40)"##,
        r##"false | user_script:3: Start offset 0 greater than input length 2."##,
    ),
    (
        r##"cmsgpack.unpack(cmsgpack.pack({1, 2, {3, 'x'}}))[3][2]"##,
        r##"true | x"##,
    ),
    (
        r##"cmsgpack.unpack(cmsgpack.pack({a = {b = 'c'}})).a.b"##,
        r##"true | c"##,
    ),
    (
        r##"cmsgpack.unpack(cmsgpack.pack({[1.5] = 'f', [true] = 't'}))[1.5]"##,
        r##"true | f"##,
    ),
    (
        r##"(function() local t = cmsgpack.unpack(cmsgpack.pack({a = 1, b = 2, [3] = 'x'})) return t.a, t.b, t[3] end)()"##,
        r##"true | 1 | 2 | x"##,
    ),
    (
        r##"(function() local s = cmsgpack.pack({1, {2}}, 'x', {k = 'v'}) local a, b, c = cmsgpack.unpack(s) return a[2][1], b, c.k end)()"##,
        r##"true | 2 | x | v"##,
    ),
];

#[test]
fn redis_7_0_15_answers() {
    let mut failures = Vec::new();
    for (expr, expected) in REDIS {
        let got = q(expr);
        if got != *expected {
            failures.push(format!("{expr}\n  expected: {expected}\n  got:      {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn libraries_are_globals() {
    assert_eq!(
        q("type(bit), type(struct), type(cjson), type(cmsgpack), type(cjson.null)"),
        "true | table | table | table | table | userdata"
    );
}

#[test]
fn round_trips() {
    // cmsgpack: every kind of value, nested.
    let src = "local v = {1, -1, 0.5, 2^40, -2^40, 'str', true, false, {a = {b = {1, 2, 3}}, [1.5] = 'x'}, string.rep('y', 300), string.rep('z', 70000)}
        local t = cmsgpack.unpack(cmsgpack.pack(v))
        return t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9].a.b[3], t[9][1.5], #t[10], #t[11]";
    assert_eq!(
        q(&format!("(function() {src} end)()")),
        "true | 1 | -1 | 0.5 | 1099511627776 | -1099511627776 | str | true | false | 3 | x | 300 | 70000"
    );
    // cjson: an object, an array with holes, strings with every escape.
    let src = "local s = ''
        for i = 0, 255 do s = s .. string.char(i) end
        local t = cjson.decode(cjson.encode({s = s, list = {1, 2, nil, 4}, n = {x = 1.25, y = -3}, b = false}))
        return t.s == s, t.list[3] == cjson.null, t.list[4], t.n.x, t.n.y, t.b";
    assert_eq!(
        q(&format!("(function() {src} end)()")),
        "true | true | true | 4 | 1.25 | -3 | false"
    );
    // struct: every option (Redis 7.0.15 gives the same answers for all
    // three round trips).
    let src = "local f = '>!4 b B h H l L T i I i3 I5 f d c3 s x c0'
        local p = struct.pack(f, -5, 250, -1000, 65000, -2^40, 2^41, 77, -123456, 123456, -70000, 2^33, 0.5, 1/3, 'abc', 'zero', 'xy')
        local r = {struct.unpack(f:gsub('c0', 'c2'), p)}
        return #p, struct.size('>!4 b B h H l L T i I i3 I5 f d c3'), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16], r[17]";
    assert_eq!(
        q(&format!("(function() {src} end)()")),
        "true | 79 | 71 | -5 | 250 | -1000 | 65000 | -1099511627776 | 2199023255552 | 77 | -123456 | 123456 | -70000 | 8589934592 | 0.5 | 0.33333333333333 | abc | zero | xy | 80"
    );
}

#[test]
fn hostile_input_is_an_error_never_a_panic() {
    // Random bytes to every decoder and format reader.
    let src = "math.randomseed(42)
        local errors = 0
        for i = 1, 3000 do
            local t = {}
            for j = 1, math.random(0, 24) do t[j] = string.char(math.random(0, 255)) end
            local s = table.concat(t)
            for _, f in ipairs({cmsgpack.unpack, cjson.decode, struct.size}) do
                if not pcall(f, s) then errors = errors + 1 end
            end
            pcall(struct.unpack, s, s)
            pcall(struct.pack, s, 1, 2, 'abc', 4)
            pcall(cmsgpack.unpack_one, s, math.random(-2, 30))
            pcall(cmsgpack.unpack_limit, s, math.random(-2, 5), math.random(-2, 30))
        end
        return errors > 3000";
    assert_eq!(q(&format!("(function() {src} end)()")), "true | true");
    // Every truncation of a valid message is an error (or fewer values).
    let src =
        "local m = cmsgpack.pack({1, {2, 'abc', {x = 1.5}}, string.rep('q', 40)}, 300, -70000)
        local j = cjson.encode({a = {1, 2, {b = 'c\\n'}}, d = 1.5})
        local bad = 0
        for i = 0, #m - 1 do
            local ok, e = pcall(cmsgpack.unpack, m:sub(1, i))
            if ok and i > 0 and i < #m then
                -- a complete prefix of values is fine only at value boundaries
            elseif not ok and e ~= 'Missing bytes in input.' then bad = bad + 1 end
        end
        for i = 0, #j - 1 do
            if pcall(cjson.decode, j:sub(1, i)) then bad = bad + 1 end
        end
        return bad";
    assert_eq!(q(&format!("(function() {src} end)()")), "true | 0");
    // Declared lengths far past the input.
    for msg in [
        r"'\221\127\255\255\255'",
        r"'\223\127\255\255\255'",
        r"'\219\127\255\255\255'",
        r"'\220\255\255' .. string.rep('\1', 100)",
        r"'\218\255\255' .. 'abc'",
    ] {
        assert_eq!(
            q(&format!("cmsgpack.unpack({msg})")),
            "false | user_script:3: Missing bytes in input."
        );
    }
    // Invalid UTF-8 passes through JSON strings as it does in lua-cjson.
    assert_eq!(
        q(r#"cjson.encode(cjson.decode('"\255\254\192\128"'))"#),
        r#"true | "\255\254\192\128""#
    );
    assert_eq!(
        q(r#"cjson.decode('["\\uD834\\uDD1E", "\\u20AC"]')[1]"#),
        r"true | \240\157\132\158"
    );
}

#[test]
fn deep_nesting_is_refused() {
    // Redis's cmsgpack decodes until its Lua stack runs out (a few thousand
    // levels); ours stops at 1000 with the same message.
    assert_eq!(
        q(r"#cmsgpack.unpack(string.rep('\145', 1000) .. '\1')"),
        "true | 1"
    );
    assert_eq!(
        q(r"cmsgpack.unpack(string.rep('\145', 1001) .. '\1')"),
        "false | user_script:3: stack overflow (in function mp_decode_to_lua_array)"
    );
    assert_eq!(
        q(r"cmsgpack.unpack(string.rep('\220\0\1', 1001) .. '\1')"),
        "false | user_script:3: stack overflow (in function mp_decode_to_lua_array)"
    );
    assert_eq!(
        q(r"cmsgpack.unpack(string.rep('\129\1', 1001) .. '\1')"),
        "false | user_script:3: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"
    );
    assert_eq!(
        q(r"cmsgpack.unpack(string.rep('\145', 100000))"),
        "false | user_script:3: stack overflow (in function mp_decode_to_lua_array)"
    );
    // cjson: a million brackets, and a structure that holds itself.
    assert_eq!(
        q(r"cjson.decode(string.rep('[', 1000000))"),
        "false | user_script:3: Found too many nested data structures (1001) at character 1001"
    );
    assert_eq!(
        q(r#"cjson.decode(string.rep('[{"k":', 600))"#),
        "false | user_script:3: Found too many nested data structures (1001) at character 3001"
    );
    assert_eq!(
        q("(function() local a, b = {}, {} a.b = b b[1] = a return cjson.encode(a) end)()"),
        "false | user_script:3: Cannot serialise, excessive nesting (1001)"
    );
}

#[test]
fn large_results_ask_the_host() {
    let limit = 1 << 20;
    // A table shared 2^30 times over.
    assert_eq!(
        run_limited(
            "local t = {'xxxxxxxxxxxxxxxx'} for i = 1, 30 do t = {t, t} end return cjson.encode(t)",
            limit
        ),
        "error: not enough memory"
    );
    assert_eq!(
        run_limited(
            "local t = {'xxxxxxxxxxxxxxxx'} for i = 1, 15 do t = {t, t, t, t} end return cmsgpack.pack(t)",
            limit
        ),
        "error: not enough memory"
    );
    assert_eq!(
        run_limited(
            "cjson.encode_sparse_array(false, 0) return cjson.encode({[2^30] = 1})",
            limit
        ),
        "error: not enough memory"
    );
    assert_eq!(
        run_limited(
            "return struct.pack('c0', string.rep('x', 2000000))",
            1 << 20
        ),
        "error: not enough memory"
    );
    // Within the limit all is well (Redis 7.0.15 gives the same length).
    assert_eq!(
        run_limited(
            "local t = {'x'} for i = 1, 10 do t = {t, t} end return tostring(#cjson.encode(t))",
            limit
        ),
        "8189"
    );
}

#[test]
fn cjson_configuration_lasts_for_the_interpreter() {
    let mut lua = Lua::new(3);
    let mut host = Limited { limit: usize::MAX };
    let mut run = |lua: &mut Lua, src: &str| {
        let f = lua.load(src.as_bytes(), b"t").expect("compiles");
        let r = lua.call(&mut host, &f, Vec::new()).expect("runs");
        match r.first() {
            Some(Value::Str(s)) => String::from_utf8_lossy(s).into_owned(),
            other => format!("{other:?}"),
        }
    };
    assert_eq!(
        run(&mut lua, "cjson.encode_number_precision(4) return 'set'"),
        "set"
    );
    assert_eq!(run(&mut lua, "return cjson.encode(math.pi)"), "3.142");
    lua.collect(&[]);
    assert_eq!(run(&mut lua, "return cjson.encode(math.pi)"), "3.142");
    assert_eq!(
        run(&mut Lua::new(3), "return cjson.encode(math.pi)"),
        "3.1415926535898"
    );
}
