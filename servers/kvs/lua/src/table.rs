//! Lua's table: an array part for the keys 1..n and an ordered hash part
//! for the rest.
//!
//! The hash part keeps insertion order (an `IndexMap`), so `next` finds
//! the key after another by position. Assigning `nil` to a key leaves its
//! entry in place with a `nil` value (a tombstone) rather than moving
//! other entries: Lua lets a traversal clear the fields it visits, and
//! `next` must still find the field after a cleared one. Tombstones are
//! swept when a new key arrives and they outnumber the live entries (Lua
//! leaves adding keys during a traversal undefined).
//!
//! The array part holds 1..=len with no trailing `nil`, so `#t` is its
//! length; holes inside it stay as `nil`s. A key one past its end moves
//! the keys after it in from the hash part.

use alloc::vec::Vec;
use core::hash::BuildHasher;
use indexmap::IndexMap;

use crate::value::{TableRef, Value};

/// Keys hashed with SipHash under a key chosen per interpreter, so that
/// keys a client chooses (the fields of a decoded message, say) cannot be
/// made to collide.
#[derive(Clone, Copy)]
pub struct Keyed(pub u64, pub u64);

impl BuildHasher for Keyed {
    #[allow(deprecated)] // SipHasher is `core`'s only keyed hash.
    type Hasher = core::hash::SipHasher;

    #[allow(deprecated)]
    fn build_hasher(&self) -> Self::Hasher {
        core::hash::SipHasher::new_with_keys(self.0, self.1)
    }
}

/// A table.
pub struct Table {
    array: Vec<Value>,
    hash: IndexMap<Value, Value, Keyed>,
    /// Entries of `hash` whose value is not nil.
    live: usize,
    pub meta: Option<TableRef>,
    /// Refuses every change, its metatable's included (a sandbox's
    /// libraries: Redis's `lua_enablereadonlytable`).
    readonly: bool,
}

/// Why a key cannot be assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    Nil,
    NaN,
    ReadOnly,
}

impl KeyError {
    /// Lua's message.
    pub fn message(self) -> &'static str {
        match self {
            KeyError::Nil => "table index is nil",
            KeyError::NaN => "table index is NaN",
            KeyError::ReadOnly => "Attempt to modify a readonly table",
        }
    }
}

/// `next` was given a key that is not in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidKey;

/// The array index a key denotes, if it is an integral number ≥ 1.
fn index(key: &Value) -> Option<usize> {
    match key {
        Value::Num(n) if *n >= 1.0 && *n <= (usize::MAX >> 1) as f64 && libm::trunc(*n) == *n => {
            Some(*n as usize)
        }
        _ => None,
    }
}

impl Table {
    pub fn new(keys: Keyed) -> Table {
        Table {
            array: Vec::new(),
            hash: IndexMap::with_hasher(keys),
            live: 0,
            meta: None,
            readonly: false,
        }
    }

    /// A table with room for `array` list items and `hash` fields.
    pub fn with_capacity(keys: Keyed, array: usize, hash: usize) -> Table {
        Table {
            array: Vec::with_capacity(array),
            hash: IndexMap::with_capacity_and_hasher(hash, keys),
            live: 0,
            meta: None,
            readonly: false,
        }
    }

    /// `t[key]` without metamethods.
    pub fn get(&self, key: &Value) -> Value {
        if let Some(i) = index(key)
            && i <= self.array.len()
        {
            return self.array[i - 1].clone();
        }
        if let Value::Nil = key {
            return Value::Nil;
        }
        self.hash.get(key).cloned().unwrap_or_default()
    }

    /// `t[i]` for an integer index.
    pub fn get_int(&self, i: usize) -> Value {
        match i.checked_sub(1).and_then(|i| self.array.get(i)) {
            Some(v) => v.clone(),
            None => self.get(&Value::Num(i as f64)),
        }
    }

    /// `t[key] = value` without metamethods.
    pub fn set(&mut self, key: Value, value: Value) -> Result<(), KeyError> {
        if self.readonly {
            return Err(KeyError::ReadOnly);
        }
        self.set_unchecked(key, value)
    }

    /// [`Table::set`] even if the table is read-only (what the host does,
    /// to put a script's `KEYS` in the protected globals).
    pub fn set_unchecked(&mut self, key: Value, value: Value) -> Result<(), KeyError> {
        match &key {
            Value::Nil => return Err(KeyError::Nil),
            Value::Num(n) if n.is_nan() => return Err(KeyError::NaN),
            _ => {}
        }
        if let Some(i) = index(&key) {
            if i <= self.array.len() {
                self.array[i - 1] = value;
                while self.array.last().is_some_and(Value::is_nil) {
                    self.array.pop();
                }
                return Ok(());
            }
            if i == self.array.len() + 1 && !value.is_nil() {
                self.remove_hashed(&key);
                self.array.push(value);
                self.migrate();
                return Ok(());
            }
        }
        if value.is_nil() {
            self.remove_hashed(&key);
            return Ok(());
        }
        match self.hash.get_mut(&key) {
            Some(slot) => {
                if slot.is_nil() {
                    self.live += 1;
                }
                *slot = value;
            }
            None => {
                if self.hash.len() >= 8 && self.live * 2 < self.hash.len() {
                    self.hash.retain(|_, v| !v.is_nil());
                }
                self.hash.insert(key, value);
                self.live += 1;
            }
        }
        Ok(())
    }

    /// Leaves a tombstone where `key` was in the hash part.
    fn remove_hashed(&mut self, key: &Value) {
        if let Some(slot) = self.hash.get_mut(key)
            && !slot.is_nil()
        {
            *slot = Value::Nil;
            self.live -= 1;
        }
    }

    /// Moves the keys that now continue the array part out of the hash.
    fn migrate(&mut self) {
        if self.live == 0 {
            return;
        }
        loop {
            let next = Value::Num((self.array.len() + 1) as f64);
            match self.hash.get_mut(&next) {
                Some(slot) if !slot.is_nil() => {
                    let v = core::mem::take(slot);
                    self.live -= 1;
                    self.array.push(v);
                }
                _ => break,
            }
        }
    }

    /// Makes the table read-only, or writable again.
    pub fn set_readonly(&mut self, on: bool) {
        self.readonly = on;
    }

    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// Sets the metatable, unless the table is read-only.
    pub fn set_meta(&mut self, meta: Option<TableRef>) -> Result<(), KeyError> {
        if self.readonly {
            return Err(KeyError::ReadOnly);
        }
        self.meta = meta;
        Ok(())
    }

    /// Whether the table has no live entry.
    pub fn is_empty(&self) -> bool {
        self.array.iter().all(Value::is_nil) && self.live == 0
    }

    /// `#t`: a border (the array part's length; Lua's when the table has
    /// no holes).
    pub fn len(&self) -> usize {
        if self.array.is_empty() && self.live > 0 {
            // Keys 1.. may all be in the hash part only if the array part
            // was cleared from the front; count them as Lua's unbound search
            // would find a border.
            let mut n = 0;
            while !self.get(&Value::Num((n + 1) as f64)).is_nil() {
                n += 1;
            }
            return n;
        }
        self.array.len()
    }

    /// Appends at `#t + 1`.
    pub fn push(&mut self, value: Value) {
        let n = self.len();
        // Only a nil or NaN key fails, and this key is a positive integer.
        let _ = self.set(Value::Num((n + 1) as f64), value);
    }

    /// The key after `key` in traversal order and its value (`next`), or
    /// `None` at the end.
    pub fn next(&self, key: &Value) -> Result<Option<(Value, Value)>, InvalidKey> {
        let mut start_hash = 0;
        let mut start_array = 0;
        match key {
            Value::Nil => {}
            _ => match index(key) {
                // A list key past the end was cleared (the array part
                // shrank under a traversal): carry on with the hash part.
                Some(i) if i <= self.array.len() || !self.hash.contains_key(key) => {
                    start_array = i.min(self.array.len());
                }
                _ => {
                    let Some(pos) = self.hash.get_index_of(key) else {
                        return Err(InvalidKey);
                    };
                    start_array = self.array.len();
                    start_hash = pos + 1;
                }
            },
        }
        for i in start_array..self.array.len() {
            if !self.array[i].is_nil() {
                return Ok(Some((Value::Num((i + 1) as f64), self.array[i].clone())));
            }
        }
        for (k, v) in self.hash.iter().skip(start_hash) {
            if !v.is_nil() {
                return Ok(Some((k.clone(), v.clone())));
            }
        }
        Ok(None)
    }

    /// The array part, for the library's list functions.
    pub fn array(&self) -> &[Value] {
        &self.array
    }

    /// Every live entry, array part first.
    pub fn entries(&self) -> impl Iterator<Item = (Value, Value)> + '_ {
        let array = self
            .array
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nil())
            .map(|(i, v)| (Value::Num((i + 1) as f64), v.clone()));
        let hash = self
            .hash
            .iter()
            .filter(|(_, v)| !v.is_nil())
            .map(|(k, v)| (k.clone(), v.clone()));
        array.chain(hash)
    }

    /// Empties the table, metatable included (to break a cycle of garbage).
    pub fn clear(&mut self) {
        self.array.clear();
        self.hash.clear();
        self.live = 0;
        self.meta = None;
    }

    /// Moves out everything the table holds.
    pub(crate) fn take_all(&mut self, out: &mut Vec<Value>) {
        out.append(&mut self.array);
        for (k, v) in self.hash.drain(..) {
            out.push(k);
            out.push(v);
        }
        if let Some(m) = self.meta.take() {
            out.push(Value::Table(m));
        }
        self.live = 0;
    }
}

/// Dropping a table drops what only it held from a list
/// ([`crate::value::drop_iteratively`]), not by recursion.
impl Drop for Table {
    fn drop(&mut self) {
        let mut pending = Vec::new();
        self.take_all(&mut pending);
        crate::value::drop_iteratively(pending);
    }
}

#[cfg(test)]
mod tests;
