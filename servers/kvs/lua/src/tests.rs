//! The interpreter end to end: chunks run through [`Lua`], their results
//! and errors compared with what Lua 5.1 gives.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::{Error, Host, Lua, NativeResult, Value};

/// A host with one function (id 0) that echoes its arguments.
struct Echo;

impl Host for Echo {
    fn call(&mut self, _lua: &mut Lua, _id: u32, args: Vec<Value>) -> NativeResult {
        Ok(args)
    }
}

fn run_in(lua: &mut Lua, src: &str) -> Result<Vec<Value>, String> {
    let f = lua
        .load(src.as_bytes(), b"t")
        .map_err(|e| String::from_utf8_lossy(&e.text()).into_owned())?;
    let result = lua.call(&mut Echo, &f, Vec::new());
    lua.collect(&[]);
    result.map_err(|e| String::from_utf8_lossy(&e.text()).into_owned())
}

/// The results of `src` as `tostring` shows them, joined by spaces.
fn run(src: &str) -> String {
    let mut lua = Lua::new(1);
    let echo = lua.host_function("echo", 0);
    lua.set_global("echo", echo);
    match run_in(&mut lua, src) {
        Ok(values) => values
            .iter()
            .map(|v| match v {
                Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
                Value::Num(_) => {
                    String::from_utf8_lossy(&v.to_bytes().unwrap_or_default()).into_owned()
                }
                other => other
                    .type_name()
                    .replace("boolean", if other.truthy() { "true" } else { "false" }),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(e) => alloc::format!("error: {e}"),
    }
}

#[test]
fn arithmetic_and_coercion() {
    assert_eq!(
        run("return 1 + 2 * 3 ^ 2, 7 % 3, -7 % 3, 7 % -3, 2^-1"),
        "19 1 2 -2 0.5"
    );
    assert_eq!(
        run("return '10' + 5, 10 .. 20, 1/0, -1/0, 0/0"),
        "15 1020 inf -inf -nan"
    );
    assert_eq!(run("return 2^3^2, -2^2, not nil == true"), "512 -4 true");
    assert_eq!(
        run("return 1e15, 1e16, 0.1, 1/3, 100"),
        "1e+15 1e+16 0.1 0.33333333333333 100"
    );
    assert_eq!(
        run("return 'a' .. 1.5, #'abc', 'abc' < 'abd', 1 <= 1"),
        "a1.5 3 true true"
    );
    assert_eq!(
        run("return 1 and 2, nil or 'x', false and error('no')"),
        "2 x false"
    );
}

#[test]
fn nan_signs_are_glibc_s() {
    // Redis 7.0.15's answers.
    assert_eq!(
        run(
            "return tostring(math.sqrt(-1)), tostring(math.log(-1)), tostring(math.acos(2)), tostring(math.asin(-2)), tostring(math.log10(-1)), tostring(-(0/0))"
        ),
        "-nan -nan nan nan nan nan"
    );
    // A NaN to a power, as glibc's pow gives it (Redis 7.0.15's answers).
    assert_eq!(
        run(
            "local z = 0 local n = z/z local out = {} for _, y in ipairs({1, 2, 3, 4, -2, -1, 0.5, 1.5, 1e300, 2^53, 2^63, 1/0, -1/0, 100}) do out[#out+1] = tostring(n^y) end return table.concat(out, ' '), tostring((-n)^21), tostring((-n)^2)"
        ),
        "nan -nan nan -nan -nan nan -nan -nan -nan -nan -nan -nan -nan -nan nan nan"
    );
}

#[test]
fn one_constant_per_value_and_minus_zero_is_zero() {
    assert_eq!(run("return -0, 0"), "-0 -0");
    assert_eq!(run("return 0, -0"), "0 0");
    assert_eq!(run("local z = 0 return -z"), "-0");
    // A folded -0 comes first (Lua folds arithmetic on numerals).
    assert_eq!(run("local a = 0 / -7 return a, 0"), "-0 -0");
    // Folding goes through parentheses, and a `not` folded away leaves
    // no constant (each as Redis's Lua 5.1 answers).
    assert_eq!(run("local a = (1 + -1) / -652 return a, 0"), "-0 -0");
    assert_eq!(run("local a = ((0)) * -1 return a, 0"), "-0 -0");
    assert_eq!(run("local a = {(0)} return -(0), 0"), "0 0");
    assert_eq!(run("local a = not -0 return a, 0"), "false 0");
    assert_eq!(
        run("return not nil, not 'x', not (1 < 2)"),
        "true false false"
    );
    // The order Lua makes constants in: arithmetic on a numeral makes
    // its right operand's first; a numeral left of `and` is none.
    assert_eq!(run("local x = 5 return -0 * (x + 0), 0"), "0 0");
    assert_eq!(run("local x = 5 local a = -0 / 0 return 0"), "0");
    assert_eq!(run("local x = 5 local a = -0 and x return 0"), "0");
    assert_eq!(run("local x = 5 local a = -0 or x return 0"), "-0");
    assert_eq!(run("local x = 5 return -0 * x, 0"), "-0 -0");
    assert_eq!(
        run("local x = 5 return x == -0, -0 == x, 0"),
        "false false -0"
    );
    assert_eq!(run("return 1 / 0, 0 % 0 ~= 0 % 0, 2 ^ 10"), "inf true 1024");
}

#[test]
fn locals_closures_and_loops() {
    assert_eq!(
        run(
            "local fs = {} for i = 1, 3 do fs[i] = function() return i end end return fs[1](), fs[2](), fs[3]()"
        ),
        "1 2 3"
    );
    assert_eq!(
        run(
            "local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end return fib(15)"
        ),
        "610"
    );
    assert_eq!(
        run(
            "local function counter() local n = 0 return function() n = n + 1 return n end end local c = counter() c() c() return c()"
        ),
        "3"
    );
    assert_eq!(
        run("local s = 0 for i = 10, 1, -2 do s = s + i end return s"),
        "30"
    );
    assert_eq!(
        run(
            "local s = 0 local i = 0 while true do i = i + 1 if i > 5 then break end s = s + i end return s"
        ),
        "15"
    );
    assert_eq!(
        run("local i = 0 repeat local j = i i = i + 1 until j >= 3 return i"),
        "4"
    );
    assert_eq!(
        run("local a, b, c = (function() return 1, 2, 3 end)() return c, b, a"),
        "3 2 1"
    );
    assert_eq!(run("local a, b = 1 return a, b"), "1 nil");
    assert_eq!(run("local a, b = 1, 2 a, b = b, a return a, b"), "2 1");
    assert_eq!(
        run("local function f(...) return select('#', ...), ... end return f(1, nil, 3)"),
        "3 1 nil 3"
    );
    assert_eq!(
        run("return select(-1, 'a', 'b'), select(2, 'a', 'b', 'c')"),
        "b b c"
    );
    assert_eq!(
        run("local t = {(function() return 1, 2 end)()} return #t"),
        "2"
    );
    assert_eq!(
        run(
            "local t = {(function() return 1, 2 end)(), ((function() return 1, 2 end)())} return #t"
        ),
        "2"
    );
}

#[test]
fn tables_and_metatables() {
    assert_eq!(
        run("local t = {1, 2, 3, x = 'y'} t[#t + 1] = 4 return #t, t.x, t[4]"),
        "4 y 4"
    );
    assert_eq!(
        run(
            "local t = {} for i = 1, 10 do t[i] = i end for k in pairs(t) do t[k] = nil end return next(t)"
        ),
        "nil"
    );
    assert_eq!(
        run("local t = {3, 1, 2} table.sort(t) table.insert(t, 1, 0) return table.concat(t, ',')"),
        "0,1,2,3"
    );
    assert_eq!(
        run(
            "local t = {5, 3, 9} table.sort(t, function(a, b) return a > b end) return table.remove(t), table.concat(t, ' ')"
        ),
        "3 9 5"
    );
    assert_eq!(
        run(
            "local mt = {__index = function(t, k) return k .. '!' end} local t = setmetatable({}, mt) return t.hi, rawget(t, 'hi')"
        ),
        "hi! nil"
    );
    assert_eq!(
        run(
            "local V = {} V.__add = function(a, b) return a.n + b.n end local a = setmetatable({n = 1}, V) local b = setmetatable({n = 2}, V) return a + b"
        ),
        "3"
    );
    assert_eq!(
        run(
            "local C = {} C.__index = C function C.new(n) return setmetatable({n = n}, C) end function C:get() return self.n end return C.new(7):get()"
        ),
        "7"
    );
    assert_eq!(
        run("local s = 0 for i, v in ipairs({1, 2, nil, 4}) do s = s + v end return s"),
        "3"
    );
    assert_eq!(run("return unpack({1, 2, 3})"), "1 2 3");
    assert_eq!(
        run(
            "local t = setmetatable({}, {__call = function(self, x) return x * 2 end}) return t(21)"
        ),
        "42"
    );
}

#[test]
fn strings() {
    assert_eq!(
        run("return ('hello'):upper(), string.sub('hello', 2, -2), ('x'):rep(3)"),
        "HELLO ell xxx"
    );
    assert_eq!(
        run("return string.find('hello world', 'o w'), string.find('hello', 'l+')"),
        "5 3 4"
    );
    assert_eq!(
        run("return string.match('key:123', '(%a+):(%d+)')"),
        "key 123"
    );
    assert_eq!(
        run("return string.gsub('hello world', 'o', '0')"),
        "hell0 w0rld 2"
    );
    assert_eq!(run("return string.gsub('abc', '%w', '%0%0')"), "aabbcc 3");
    assert_eq!(
        run("return string.gsub('$name is $age', '%$(%w+)', {name = 'Bob', age = 42})"),
        "Bob is 42 2"
    );
    assert_eq!(
        run(
            "local s = '' for w in string.gmatch('one two three', '%a+') do s = s .. w:sub(1, 1) end return s"
        ),
        "ott"
    );
    assert_eq!(
        run("return string.format('%d %5.2f %s %q %x', 42, 3.14159, 'hi', 'a\"b', 255)"),
        "42  3.14 hi \"a\\\"b\" ff"
    );
    assert_eq!(
        run(
            "return string.byte('A'), string.char(72, 105), string.len('\\0ab'), ('abc'):reverse()"
        ),
        "65 Hi 3 cba"
    );
    assert_eq!(
        run(
            "return tostring(nil), tostring(true), tonumber('0x10'), tonumber('z', 36), tonumber('x')"
        ),
        "nil true 16 35 nil"
    );
}

#[test]
fn errors_name_the_variable() {
    assert_eq!(
        run("local a return a + 1"),
        "error: t:1: attempt to perform arithmetic on local 'a' (a nil value)"
    );
    assert_eq!(
        run("return g + 1"),
        "error: t:1: attempt to perform arithmetic on global 'g' (a nil value)"
    );
    assert_eq!(
        run("local t = {} return t.f + 1"),
        "error: t:1: attempt to perform arithmetic on field 'f' (a nil value)"
    );
    assert_eq!(
        run("local t = {} return t[1] + 1"),
        "error: t:1: attempt to perform arithmetic on field '?' (a nil value)"
    );
    assert_eq!(
        run("local x = nil + 1"),
        "error: t:1: attempt to perform arithmetic on a nil value"
    );
    assert_eq!(
        run("local f; f()"),
        "error: t:1: attempt to call local 'f' (a nil value)"
    );
    assert_eq!(
        run("local t = {} t:m()"),
        "error: t:1: attempt to call method 'm' (a nil value)"
    );
    assert_eq!(
        run("local t = {}\n\nreturn t.a.b"),
        "error: t:3: attempt to index field 'a' (a nil value)"
    );
    assert_eq!(
        run("return 'a' .. nil"),
        "error: t:1: attempt to concatenate a nil value"
    );
    assert_eq!(
        run("return #nil"),
        "error: t:1: attempt to get length of a nil value"
    );
    assert_eq!(
        run("return {} < {}"),
        "error: t:1: attempt to compare two table values"
    );
    assert_eq!(
        run("return 1 < 'a'"),
        "error: t:1: attempt to compare number with string"
    );
    assert_eq!(
        run("return string.rep()"),
        "error: t:1: bad argument #1 to 'rep' (string expected, got no value)"
    );
    assert_eq!(
        run("return ('x'):rep()"),
        "error: t:1: bad argument #1 to 'rep' (number expected, got no value)"
    );
    assert_eq!(
        run("return math.floor('a')"),
        "error: t:1: bad argument #1 to 'floor' (number expected, got string)"
    );
    assert_eq!(
        run("local function f() return f() + 1 end return f()"),
        "error: t:1: stack overflow"
    );
    assert_eq!(run("\n\nerror('x')"), "error: t:3: x");
    assert_eq!(
        run("local function f()\n  error('lvl2', 2)\nend\nf()"),
        "error: t:4: lvl2"
    );
    assert_eq!(run("error('x', 0)"), "error: x");
    assert_eq!(run("assert(false)"), "error: t:1: assertion failed!");
    assert_eq!(run("return pcall(error, 'x')"), "false x");
    assert_eq!(
        run("return pcall(function() local a return a.b end)"),
        "false t:1: attempt to index local 'a' (a nil value)"
    );
    assert_eq!(run("return select(2, pcall(error, {code = 1})).code"), "1");
    assert_eq!(
        run("return xpcall(function() error('e') end, function(m) return 'handled: ' .. m end)"),
        "false handled: t:1: e"
    );
}

#[test]
fn syntax_errors() {
    assert_eq!(run("return +"), "error: t:1: unexpected symbol near '+'");
    assert_eq!(run("x ="), "error: t:1: unexpected symbol near '<eof>'");
    assert_eq!(
        run("local a = \n\n"),
        "error: t:3: unexpected symbol near '<eof>'"
    );
    assert_eq!(run("return 1 2"), "error: t:1: '<eof>' expected near '2'");
    assert_eq!(run("foo bar baz"), "error: t:1: '=' expected near 'bar'");
    assert_eq!(
        run("return 'abc"),
        "error: t:1: unfinished string near '<eof>'"
    );
    assert_eq!(run("if then"), "error: t:1: unexpected symbol near 'then'");
    assert_eq!(
        run("if x then\n\nreturn 1"),
        "error: t:3: 'end' expected (to close 'if' at line 1) near '<eof>'"
    );
    assert_eq!(run("break"), "error: t:1: no loop to break near '<eof>'");
    assert_eq!(
        run("local function f() return ... end"),
        "error: t:1: cannot use '...' outside a vararg function near '...'"
    );
    assert_eq!(
        run(&"(".repeat(300)),
        "error: t:1: chunk has too many syntax levels near '('"
    );
}

#[test]
fn host_functions_receive_their_arguments() {
    assert_eq!(run("return echo('a', 1, nil)"), "a 1 nil");
}

#[test]
fn cycles_are_collected() {
    let mut lua = Lua::new(7);
    let f = lua
        .load(
            b"local t = {} t.self = t local function f() return f end return t",
            b"t",
        )
        .unwrap_or_else(|e| panic!("{:?}", e.value));
    let result = lua
        .call(&mut Echo, &f, Vec::new())
        .unwrap_or_else(|e: Error| panic!("{:?}", e.value));
    let Value::Table(t) = &result[0] else {
        panic!("a table")
    };
    let weak = alloc::rc::Rc::downgrade(t);
    drop(result);
    lua.collect(&[]);
    assert!(
        weak.upgrade().is_none(),
        "the self-referencing table was freed"
    );
    // What the roots reach survives.
    let g = lua
        .load(b"return {1, 2}", b"t")
        .unwrap_or_else(|e| panic!("{:?}", e.value));
    let kept = lua
        .call(&mut Echo, &g, Vec::new())
        .unwrap_or_else(|e| panic!("{:?}", e.value));
    lua.collect(&kept);
    let Value::Table(t) = &kept[0] else {
        panic!("a table")
    };
    assert_eq!(t.borrow().len(), 2);
    let _ = vec![0];
}

#[test]
fn a_million_nested_tables_drop_without_recursion() {
    assert_eq!(
        run("local t = {} for i = 1, 1000000 do t = {t} end return 1"),
        "1"
    );
    assert_eq!(
        run(
            "local f = function() end for i = 1, 300000 do local g = f f = function() return g end end return 1"
        ),
        "1"
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow_error() {
    // Within the machine stack the state may use (1 MiB: half a test
    // thread's), whatever the build's frame sizes.
    let mut lua = Lua::new(1);
    let f = lua
        .load(b"local n = 0 local function f() n = n + 1 return f() end local ok, e = pcall(f) return n, e", b"t")
        .unwrap_or_else(|e| panic!("{:?}", e.value));
    let r = lua
        .call(&mut Echo, &f, Vec::new())
        .unwrap_or_else(|e| panic!("{:?}", e.value));
    assert!(matches!(r[0], Value::Num(n) if n >= 50.0), "{r:?}");
    assert_eq!(r[1], Value::str(b"t:1: stack overflow"));
}

#[test]
fn loadstring_and_load_compile_chunks() {
    assert_eq!(run("return loadstring('return 1 + 1')()"), "2");
    assert_eq!(
        run("return loadstring('return +')"),
        "nil [string \"return +\"]:1: unexpected symbol near '+'"
    );
    assert_eq!(
        run("return loadstring('return +', '=mine')"),
        "nil mine:1: unexpected symbol near '+'"
    );
    assert_eq!(
        run(
            "local parts = {'return ', '4', '2'} local i = 0 return load(function() i = i + 1 return parts[i] end)()"
        ),
        "42"
    );
}
