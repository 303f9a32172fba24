//! The readers as the fuzz targets (`fuzz/`) and the chunking property
//! test drive them: a whole file, fed in chunks cut where the caller says,
//! read into owned records. Not part of the job.

use crate::config::Encoding;
use crate::domain::SourceName;
use crate::error::Result;

use super::csv::CsvReader;
use super::ndjson::NdjsonReader;
use super::record::{Collect, RawRecord};
use super::spec::columns;

/// What a file read as: its records, and the error that stopped it, as
/// its exit code and message.
pub type Read = (Vec<RawRecord>, Option<(u8, String)>);

/// Reads `bytes` as a CSV file of `source`, fed in chunks that end at
/// `cuts` (offsets into `bytes`, in any order; out-of-range ones ignored).
pub fn read_csv(source: SourceName, bytes: &[u8], cuts: &[usize], max_record_bytes: usize) -> Read {
    let cols = columns(source);
    let mut sink = Collect::new(cols.len(), |_| true);
    let mut reader = CsvReader::new(cols, Encoding::Utf8, "fuzz.csv", max_record_bytes);
    let done = feed(bytes, cuts, |chunk| reader.feed(chunk, &mut sink))
        .and_then(|()| reader.finish(&mut sink));
    (
        sink.records,
        done.err().map(|e| (e.exit_code(), e.to_string())),
    )
}

/// Reads `bytes` as an NDJSON file of `source`, chunked as [`read_csv`].
pub fn read_ndjson(
    source: SourceName,
    bytes: &[u8],
    cuts: &[usize],
    max_record_bytes: usize,
) -> Read {
    let cols = columns(source);
    let mut sink = Collect::new(cols.len(), |_| true);
    let mut reader = NdjsonReader::new(cols, Encoding::Utf8, "fuzz.ndjson", max_record_bytes);
    let done = feed(bytes, cuts, |chunk| reader.feed(chunk, &mut sink))
        .and_then(|()| reader.finish(&mut sink));
    (
        sink.records,
        done.err().map(|e| (e.exit_code(), e.to_string())),
    )
}

fn feed(bytes: &[u8], cuts: &[usize], mut chunk: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut ends: Vec<usize> = cuts.iter().copied().filter(|c| *c < bytes.len()).collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    ends.dedup();
    let mut start = 0;
    for end in ends {
        chunk(&bytes[start..end])?;
        start = end;
    }
    Ok(())
}

/// What must hold of any file, however it is cut into chunks: the same
/// records (or the same error) as the whole file; lines that increase; a
/// cut raw no longer than 1 KiB. Panics with what failed; returns how
/// many records were read.
pub fn check(
    read: fn(SourceName, &[u8], &[usize], usize) -> Read,
    bytes: &[u8],
    cuts: &[usize],
) -> usize {
    let mut records = 0;
    for source in SourceName::ALL {
        let max = 1024;
        let whole = read(source, bytes, &[], max);
        let chunked = read(source, bytes, cuts, max);
        assert_eq!(
            whole, chunked,
            "{source}: chunks at {cuts:?} change what is read"
        );
        let lines: Vec<i64> = whole.0.iter().map(|r| r.line).collect();
        assert!(
            lines.windows(2).all(|w| w[0] < w[1]),
            "{source}: lines {lines:?}"
        );
        for r in &whole.0 {
            if r.malformed.as_deref() == Some(super::record::TOO_LONG) {
                assert!(
                    r.raw.len() <= 1024,
                    "{source}: a cut raw of {} bytes",
                    r.raw.len()
                );
            }
        }
        records += whole.0.len();
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so the property test
    /// needs no crate and fails the same way every time.
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// A file of the characters that matter to the readers, and others.
        fn file(&mut self, len: usize) -> Vec<u8> {
            const ALPHABET: &[u8] = b"\",\r\n{}[]:ab1-. \\\x00\xc3\xa9\xff";
            let header: &[u8] = if self.next().is_multiple_of(2) {
                b"customer_id,name,phone,signup_date,invoice_id,line_no,invoice_date,amount,currency,cost_id,cost_date\n"
            } else {
                b""
            };
            let mut out = header.to_vec();
            out.extend((0..len).map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize]));
            out
        }
    }

    #[test]
    fn any_file_reads_the_same_however_it_is_cut_into_chunks() {
        let mut random = Bytes(0x9E37_79B9_7F4A_7C15);
        let mut records = 0;
        for case in 0..3000 {
            let len = (random.next() % 400) as usize;
            let file = random.file(len);
            let cuts: Vec<usize> = (0..(random.next() % 6))
                .map(|_| (random.next() as usize) % (file.len() + 1))
                .collect();
            let reader = if case % 2 == 0 { read_csv } else { read_ndjson };
            records += check(reader, &file, &cuts);
        }
        assert!(records > 10_000, "only {records} records were read");
    }
}
