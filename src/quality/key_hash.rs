//! `key_hash(a, b, …)`: a 64-bit hash of a key's columns, DataFusion's own
//! (the one its joins and group-bys use), with a fixed seed.
//!
//! The duplicate checks look for keys that occur twice among tens of
//! millions of rows. Grouping by one integer is several times cheaper than
//! grouping by text, so the doubled keys are found by hash first and then
//! exactly, among the few rows whose hash occurs twice: two different keys
//! that share a hash only cost a little extra work there, never a wrong
//! answer, because the exact step compares the keys themselves.

use std::sync::Arc;

use datafusion::arrow::array::UInt64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct KeyHash {
    signature: Signature,
}

/// The function, to register on a session.
pub fn function() -> ScalarUDF {
    ScalarUDF::from(KeyHash {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

impl ScalarUDFImpl for KeyHash {
    fn name(&self) -> &str {
        "key_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.is_empty() {
            return plan_err!("key_hash: no key columns");
        }
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut hashes = vec![0u64; args.number_rows];
        create_hashes(&arrays, &RandomState::default(), &mut hashes)?;
        Ok(ColumnarValue::Array(Arc::new(UInt64Array::from(hashes))))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::UInt64Type;
    use datafusion::prelude::SessionContext;

    use super::*;

    async fn hashes(sql: &str) -> Vec<u64> {
        let ctx = SessionContext::new();
        ctx.register_udf(function());
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .collect()
    }

    #[tokio::test]
    async fn equal_keys_hash_alike_and_the_columns_count_in_order() {
        let h = hashes(
            "SELECT key_hash(a, b) FROM (VALUES ('I1', 1), ('I1', 1), ('I1', 2), ('1', 1)) AS t(a, b)",
        )
        .await;
        assert_eq!(h[0], h[1]);
        assert_ne!(h[0], h[2]);
        assert_ne!(h[0], h[3]);
    }
}
