//! One test per rule of docs/inputs.md (formats, values, rejections, order of
//! checks, gates), each on inputs small enough to check by hand.

mod common;

mod broken_records;
mod csv_dialect;
mod duplicates;
mod file_selection;
mod max_record_bytes;
mod order_of_checks;
mod personal_data;
mod quality_gate;
mod rejected_text;
mod storage;
mod typed_inputs;
mod unknown_customer;
