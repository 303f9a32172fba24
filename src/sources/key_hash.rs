//! `_key_hash`: a 64-bit hash of a staged row's key ([`spec::key_columns`]),
//! computed as the row is staged.
//!
//! The duplicate checks look for keys that occur twice among hundreds of
//! millions of rows. Each file's part keeps its rows' hashes, and a sorted
//! copy of them ([`spec::keys_schema`]); the quality step merges those sorted
//! runs to find the hashes that occur twice, then ranks exactly the few rows
//! that carry them: two different keys that share a hash only cost a little
//! extra work there, never a wrong answer, because that step compares the
//! keys themselves.
//!
//! A part may come from the staging cache, written by another process on
//! another machine, so the hash must not depend on either: XXH64 with seed
//! 0 over each key column in turn, a text as its length (8 bytes, little
//! endian) then its UTF-8 bytes, an integer as its 8 bytes, little endian.
//! (DataFusion's own hash is seeded per build and differs by CPU features.)
//!
//! [`spec::key_columns`]: super::spec::key_columns
//! [`spec::keys_schema`]: super::spec::keys_schema

use std::hash::Hasher;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use twox_hash::XxHash64;

use crate::error::{Error, Result};

/// The hash of each row's key, `keys` being the key's columns in order
/// (text or 64-bit integers, without nulls: keys are required).
pub fn hashes(keys: &[&ArrayRef]) -> Result<UInt64Array> {
    let rows = keys.first().map_or(0, |k| k.len());
    let mut hashers: Vec<XxHash64> = (0..rows).map(|_| XxHash64::with_seed(0)).collect();
    for key in keys {
        if key.null_count() > 0 {
            return Err(Error::internal("a key column holds nulls"));
        }
        match key.data_type() {
            DataType::Utf8 => {
                for (h, text) in hashers.iter_mut().zip(key.as_string::<i32>().iter()) {
                    let text = text.unwrap_or_default().as_bytes();
                    h.write(&(text.len() as u64).to_le_bytes());
                    h.write(text);
                }
            }
            DataType::Int64 => {
                let values = key.as_primitive::<Int64Type>().values();
                for (h, v) in hashers.iter_mut().zip(values) {
                    h.write(&v.to_le_bytes());
                }
            }
            other => {
                return Err(Error::internal(format!("a key column of type {other}")));
            }
        }
    }
    Ok(hashers.iter().map(Hasher::finish).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};

    use super::*;

    fn billing_keys(rows: &[(&str, i64)]) -> Vec<u64> {
        let ids: ArrayRef = Arc::new(rows.iter().map(|r| Some(r.0)).collect::<StringArray>());
        let nos: ArrayRef = Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>());
        hashes(&[&ids, &nos]).unwrap().values().to_vec()
    }

    #[test]
    fn equal_keys_hash_alike_and_the_columns_count_in_order() {
        let h = billing_keys(&[("I1", 1), ("I1", 1), ("I1", 2), ("1", 1), ("I11", 1)]);
        assert_eq!(h[0], h[1]);
        assert_ne!(h[0], h[2]);
        assert_ne!(h[0], h[3]);
        assert_ne!(h[0], h[4]);
    }

    #[test]
    fn a_key_hashes_the_same_in_every_process_and_on_every_machine() {
        // A cached part written by an earlier build or on another machine
        // must carry the hashes this build computes. The value is XXH64,
        // seed 0, of 05 00 00 00 00 00 00 00 "INV-1" 03 00 00 00 00 00 00 00,
        // as the reference implementation (xxhash's) gives it.
        assert_eq!(billing_keys(&[("INV-1", 3)]), vec![592_849_993_750_073_780]);
    }
}
