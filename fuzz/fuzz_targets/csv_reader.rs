//! The CSV reader on any bytes, fed whole and in chunks: the same records
//! (or the same error) either way, lines that increase, cut records no
//! longer than 1 KiB, and no panic. The first three bytes choose where the
//! chunks end.
#![no_main]

use cvm_etl::sources::fuzzing::{check, read_csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (cuts, file) = data.split_at(data.len().min(3));
    let cuts: Vec<usize> = cuts.iter().map(|&c| usize::from(c) * 7).collect();
    check(read_csv, file, &cuts);
});
