//! Interned texts: each distinct value of a column gets a small code, and the
//! events holding it a bitmap.

use std::collections::HashMap;

use roaring::RoaringBitmap;

/// The code of an absent (NULL) value: never interned, in no bitmap.
pub(crate) const NONE: u32 = u32::MAX;

/// The distinct values of one column, each with the bitmap of the events that hold it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Column {
    names: Vec<String>,
    codes: HashMap<String, u32>,
    /// Events (or, for aircraft columns, events with an aircraft) holding each value, by code.
    pub bitmaps: Vec<RoaringBitmap>,
}

impl Column {
    /// The code of `value`, interning it when new; [`NONE`] for `None`.
    pub fn intern(&mut self, value: Option<&str>) -> u32 {
        let Some(v) = value else { return NONE };
        if let Some(&c) = self.codes.get(v) {
            return c;
        }
        let c = u32::try_from(self.names.len()).unwrap_or(NONE - 1);
        self.names.push(v.to_string());
        self.codes.insert(v.to_string(), c);
        self.bitmaps.push(RoaringBitmap::new());
        c
    }

    /// Interns `value` and adds `id` to its bitmap; returns the code.
    pub fn add(&mut self, value: Option<&str>, id: u32) -> u32 {
        let c = self.intern(value);
        if c != NONE {
            self.bitmaps[c as usize].insert(id);
        }
        c
    }

    /// Removes `id` from the bitmap of `code`.
    pub fn remove(&mut self, code: u32, id: u32) {
        if let Some(b) = self.bitmaps.get_mut(code as usize) {
            b.remove(id);
        }
    }

    /// The code of `value`, if it was ever seen.
    pub fn code(&self, value: &str) -> Option<u32> {
        self.codes.get(value).copied()
    }

    /// The text of `code`.
    pub fn name(&self, code: u32) -> Option<&str> {
        self.names.get(code as usize).map(String::as_str)
    }

    /// Every value with its code.
    pub fn names(&self) -> impl Iterator<Item = (u32, &str)> {
        self.names.iter().enumerate().map(|(i, n)| (i as u32, n.as_str()))
    }

    /// Distinct values seen.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Keeps in `set` only the events holding `value`.
    pub fn keep(&self, value: &str, set: &mut RoaringBitmap) {
        match self.code(value) {
            Some(c) => *set &= &self.bitmaps[c as usize],
            None => set.clear(),
        }
    }

    /// Bytes held (texts, map and bitmaps), approximately.
    pub fn heap_bytes(&self) -> usize {
        let texts: usize = self.names.iter().map(|n| 2 * n.capacity() + 64).sum();
        texts + self.bitmaps.iter().map(|b| b.serialized_size() + 48).sum::<usize>()
    }
}
