//! The staging cache (docs/scheduling.md#the-staging-cache): a week of
//! nightly runs with the cache and the same nights without it give the same
//! tables, counts and warnings, while files change, appear and vanish
//! between nights, the cache is deleted or damaged, and an earlier date is
//! run again; the cache holds only what the latest night read.

use std::path::Path;
use std::process::Command;

use crate::support::{self, contents, copy_dir, files, ok};

/// `cvm-etl run pipelines/sample.yaml --input IN --output OUT --as-of D EXTRA`.
fn night(input: &Path, output: &Path, as_of: &str, extra: &[&str]) -> serde_json::Value {
    let run = ok(Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["run", "pipelines/sample.yaml", "--as-of", as_of, "--input"])
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(extra)
        .output()
        .unwrap());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let cached = !extra.contains(&"--no-cache");
    assert_eq!(stdout.contains("files reused"), cached, "{stdout}");
    let mut runs = support::manifests(output, as_of);
    runs.pop_last().unwrap().1
}

fn append(file: &Path, text: &str) {
    let mut bytes = std::fs::read(file).unwrap();
    bytes.extend_from_slice(text.as_bytes());
    std::fs::write(file, bytes).unwrap();
}

/// Every published partition of the two outputs holds the same rows.
fn same_tables(a: &Path, b: &Path, night: &str) {
    let (a, b) = (contents(a), contents(b));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let differ: Vec<&&String> = keys.iter().filter(|k| a.get(**k) != b.get(**k)).collect();
    assert!(differ.is_empty(), "{night}: partitions differ: {differ:?}");
}

/// The run's counts and warnings, which must not depend on the cache.
fn facts(manifest: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "sources": manifest["sources"],
        "warnings": manifest["warnings"],
        "inputs": manifest["inputs"],
        "summary": manifest["summary"],
    })
}

fn cache_counts(manifest: &serde_json::Value) -> (u64, u64, u64) {
    let c = &manifest["cache"];
    let n = |k: &str| c[k].as_u64().unwrap();
    (n("hits"), n("misses"), n("written"))
}

#[test]
fn nightly_runs_with_the_cache_give_the_tables_of_runs_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (input, cached, plain) = (
        dir.path().join("in"),
        dir.path().join("cached"),
        dir.path().join("plain"),
    );
    copy_dir(Path::new("examples/sample"), &input);
    let billing = input.join("billing");
    let cache = cached.join("_cache");

    let mut nights = Vec::new();
    for as_of in [
        "2026-10-26",
        "2026-10-27",
        "2026-10-28",
        "2026-10-29",
        "2026-10-30",
        "2026-10-31",
        "2026-11-01",
        "2026-11-03",
    ] {
        match as_of {
            // Same path, new size and ETag.
            "2026-10-27" => append(
                &billing.join("dt=2026-10-20/billing-000.csv"),
                "INV-APPENDED,1,C0000002,2026-10-20,data,12.34,CNY\n",
            ),
            // A file in an old partition: every later file's place in the
            // selection moves; it holds a duplicate of another file's line,
            // an unknown customer and a line after tonight's date.
            "2026-10-28" => std::fs::write(
                billing.join("dt=2026-10-10/billing-001.csv"),
                "invoice_id,line_no,customer_id,invoice_date,service,amount,currency\n\
                 INV202610-C0000001,1,C0000001,2026-10-20,device,410.14,CNY\n\
                 INV-NOBODY,1,C9999999,2026-10-10,data,5.00,CNY\n\
                 INV-LATER,1,C0000003,2026-10-30,data,7.00,CNY\n",
            )
            .unwrap(),
            "2026-10-29" => {
                std::fs::remove_file(billing.join("dt=2026-10-05/billing-000.csv")).unwrap()
            }
            // Deleted at any time: only slower.
            "2026-10-30" => std::fs::remove_dir_all(&cache).unwrap(),
            // Damaged: a part cut short, an entry that does not read.
            "2026-10-31" => damage(&cache),
            _ => {}
        }
        let with = night(&input, &cached, as_of, &[]);
        let without = night(&input, &plain, as_of, &["--no-cache"]);
        same_tables(&cached, &plain, as_of);
        assert_eq!(facts(&with), facts(&without), "{as_of}");
        assert!(without["cache"].is_null(), "{as_of}");
        nights.push((as_of, cache_counts(&with)));
    }
    let hits = |as_of: &str| nights.iter().find(|n| n.0 == as_of).unwrap().1.0;
    assert_eq!(nights[0].1.0, 0, "the first night fills the cache");
    assert_eq!(hits("2026-10-30"), 0, "the cache was deleted");
    for as_of in [
        "2026-10-27",
        "2026-10-28",
        "2026-10-29",
        "2026-10-31",
        "2026-11-01",
    ] {
        assert!(hits(as_of) > 0, "{as_of}: {nights:?}");
    }
    // The changed and new files were read again, and kept.
    let (_, misses, written) = nights[1].1;
    assert!(misses >= 1 && written >= 1, "{nights:?}");

    // What the last night did not read is gone: an entry per file it read,
    // each with the three parts it names, and no temporaries.
    let kept = files(&cache);
    let entries: Vec<&String> = kept.iter().filter(|f| f.ends_with("/entry.json")).collect();
    let last = support::manifests(&cached, "2026-11-03")
        .pop_last()
        .unwrap()
        .1;
    assert_eq!(entries.len(), last["inputs"].as_array().unwrap().len());
    assert_eq!(kept.len(), 4 * entries.len(), "{kept:?}");
    assert!(!kept.iter().any(|f| f.contains('#')), "{kept:?}");
    for source in std::fs::read_dir(cache.join("v1")).unwrap() {
        for key in std::fs::read_dir(source.unwrap().path()).unwrap() {
            let key = key.unwrap().path();
            assert!(
                key.join("entry.json").exists(),
                "an emptied folder: {key:?}"
            );
        }
    }

    // An earlier date again: entries whose rows are later than it miss.
    let with = night(&input, &cached, "2026-10-29", &[]);
    let without = night(&input, &plain, "2026-10-29", &["--no-cache"]);
    same_tables(&cached, &plain, "2026-10-29 again");
    assert_eq!(facts(&with), facts(&without));
    assert!(cache_counts(&with).1 > 0, "{:?}", cache_counts(&with));
    // A backfill only reads: the cache is as the last night left it, and
    // the next night takes every file from it.
    assert_eq!(cache_counts(&with).2, 0);
    assert_eq!(files(&cache), kept);
    let next = night(&input, &cached, "2026-11-03", &[]);
    assert_eq!(cache_counts(&next), (entries.len() as u64, 0, 0));
}

/// Cuts one staged part and another entry's key hashes short, garbles one
/// entry, and leaves what a run killed while keeping a file leaves: parts
/// no entry names, and a temporary of an interrupted write.
fn damage(cache: &Path) {
    let kept = files(cache);
    let part = kept
        .iter()
        .find(|f| f.ends_with(".staged.parquet"))
        .unwrap();
    let bytes = std::fs::read(cache.join(part)).unwrap();
    // A hard link would carry the cut into the run's own files: replace it.
    std::fs::remove_file(cache.join(part)).unwrap();
    std::fs::write(cache.join(part), &bytes[..bytes.len() / 2]).unwrap();
    // And, in another entry, the key hashes cut short.
    let keys = kept
        .iter()
        .filter(|f| f.ends_with(".keys.parquet"))
        .nth(1)
        .unwrap();
    let key_bytes = std::fs::read(cache.join(keys)).unwrap();
    std::fs::remove_file(cache.join(keys)).unwrap();
    std::fs::write(cache.join(keys), &key_bytes[..key_bytes.len() / 2]).unwrap();
    let entry = kept
        .iter()
        .rev()
        .find(|f| f.ends_with("/entry.json"))
        .unwrap();
    std::fs::write(cache.join(entry), "{ not json").unwrap();
    let orphans = cache.join("v1/billing/0123456789abcdef");
    std::fs::create_dir_all(&orphans).unwrap();
    std::fs::write(orphans.join("run.staged.parquet"), &bytes).unwrap();
    std::fs::write(orphans.join("entry.json#3"), "{").unwrap();
}
