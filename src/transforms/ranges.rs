//! Ranks over all customers, range-partitioned.
//!
//! A window without `PARTITION BY` (`RANK() OVER (ORDER BY profit_w)`) is one
//! sort of every customer in one task: on a cluster, one executor does it
//! while the others wait, and its share grows with the customers. The model
//! instead ranks the way distributed engines sort, with the driver choosing
//! the ranges (as Spark's range partitioner does):
//!
//! ```text
//!   driver:    a sample of key k ──► cut points c₁ < … < c_m        $k_cuts
//!              rows per bucket (one grouped count for all the keys)
//!                 ──► rows in the buckets before / after each one   $k_before, $k_after
//!
//!   executors: bucket(x) = #{cᵢ ≤ x}                      range_bucket(x, $k_cuts)
//!              rank(x)   = rows before x's bucket         range_offset(x, $k_cuts, $k_before)
//!                          + RANK() OVER (PARTITION BY bucket(x) ORDER BY x)
//! ```
//!
//! A bucket depends on the key alone and never decreases as the key grows,
//! so equal keys share a bucket and every row of an earlier bucket sorts
//! before every row of a later one: the rank is exact whatever the sample.
//! The sample only decides how even the buckets are, and so how well the
//! work spreads. The same SQL runs on the local engine, where the buckets
//! spread the sorts over the cores. The three lists are constants of the
//! plan (parameters), so no join carries them to the rows.
//!
//! A step's keys are the columns of its keys query
//! (`sql/model/NN_step.keys.sql`), which reads one table of an earlier step.
//! A null key is in bucket 0, first in ascending order; a key ranked in
//! descending order must not be null.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, ListArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// Sampled keys per bucket: enough for buckets of even size within a few
/// per cent, few enough for the driver to sort at once.
const SAMPLE_PER_BUCKET: usize = 64;

/// Buckets per partition of the plan, so that hashing buckets to partitions
/// spreads the rows evenly.
const BUCKETS_PER_PARTITION: usize = 8;

/// How many buckets a session's ranks are cut into.
pub fn buckets(ctx: &SessionContext) -> usize {
    ctx.state().config().target_partitions().max(1) * BUCKETS_PER_PARTITION
}

/// For each column `k` of `keys_sql`, the parameters `$k_cuts`, `$k_before`
/// and `$k_after` of its ranks.
pub async fn parameters(
    ctx: &SessionContext,
    keys_sql: &str,
    buckets: usize,
) -> Result<Vec<(String, ScalarValue)>> {
    let keys = ctx.sql(keys_sql).await?;
    let names: Vec<String> = keys
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let sample = sample(ctx, keys_sql, buckets).await?;
    let cuts = (0..names.len())
        .map(|i| cuts_of(&sample, i, buckets))
        .collect::<Result<Vec<_>>>()?;
    let sizes = bucket_sizes(ctx, keys_sql, &names, &cuts).await?;
    let mut values = Vec::new();
    for ((name, cuts), sizes) in names.iter().zip(cuts).zip(sizes) {
        let before = running(sizes.iter().copied());
        let mut after = running(sizes.iter().rev().copied());
        after.reverse();
        values.push((
            format!("{name}_cuts"),
            list(Arc::new(Float64Array::from(cuts))),
        ));
        values.push((
            format!("{name}_before"),
            list(Arc::new(Int64Array::from(before))),
        ));
        values.push((
            format!("{name}_after"),
            list(Arc::new(Int64Array::from(after))),
        ));
    }
    Ok(values)
}

/// About `buckets × SAMPLE_PER_BUCKET` rows of the keys, each row taken with
/// the same chance (all of them when there are fewer).
async fn sample(
    ctx: &SessionContext,
    keys_sql: &str,
    buckets: usize,
) -> Result<Vec<datafusion::arrow::array::RecordBatch>> {
    let rows = ctx.sql(keys_sql).await?.count().await?;
    let wanted = buckets * SAMPLE_PER_BUCKET;
    let sample = if rows <= wanted {
        ctx.sql(keys_sql).await?
    } else {
        let fraction = wanted as f64 / rows as f64;
        ctx.sql(&format!(
            "SELECT * FROM ({keys_sql}) WHERE random() < $fraction"
        ))
        .await?
        .with_param_values(vec![("fraction", ScalarValue::Float64(Some(fraction)))])?
    };
    sample.collect().await
}

/// The cut points of column `i` of the sample: the keys that split it into
/// `buckets` of about equal size, strictly increasing, at most
/// `buckets − 1` of them.
fn cuts_of(
    sample: &[datafusion::arrow::array::RecordBatch],
    i: usize,
    buckets: usize,
) -> Result<Vec<f64>> {
    let mut keys = Vec::new();
    for batch in sample {
        let doubles = cast(batch.column(i), &DataType::Float64)?;
        keys.extend(
            doubles
                .as_primitive::<Float64Type>()
                .iter()
                .flatten()
                .map(|k| k + 0.0),
        );
    }
    Ok(evenly_spaced(keys, buckets))
}

fn evenly_spaced(mut keys: Vec<f64>, buckets: usize) -> Vec<f64> {
    keys.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..buckets)
        .filter_map(|i| keys.get(i * keys.len() / buckets).copied())
        .collect();
    cuts.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
    cuts
}

/// The rows of each bucket of every key (`cuts[i].len() + 1` of them for
/// key i), counted in one pass over the keys: one grouping set a key.
/// `range_bucket` is never null, so in key i's grouping set its bucket is
/// the only column that is not.
async fn bucket_sizes(
    ctx: &SessionContext,
    keys_sql: &str,
    names: &[String],
    cuts: &[Vec<f64>],
) -> Result<Vec<Vec<i64>>> {
    let buckets: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("range_bucket(\"{name}\", $cuts_{i}) AS b{i}"))
        .collect();
    let columns: Vec<String> = (0..names.len()).map(|i| format!("b{i}")).collect();
    let sets: Vec<String> = columns.iter().map(|b| format!("({b})")).collect();
    let sql = format!(
        "SELECT {}, COUNT(*) AS size FROM (SELECT {} FROM ({keys_sql})) \
         GROUP BY GROUPING SETS ({})",
        columns.join(", "),
        buckets.join(", "),
        sets.join(", ")
    );
    let params: Vec<(String, ScalarValue)> = cuts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let values = list(Arc::new(Float64Array::from(c.clone())));
            (format!("cuts_{i}"), values)
        })
        .collect();
    let batches = ctx
        .sql(&sql)
        .await?
        .with_param_values(params)?
        .collect()
        .await?;
    let mut sizes: Vec<Vec<i64>> = cuts.iter().map(|c| vec![0; c.len() + 1]).collect();
    for batch in &batches {
        let counts = batch.column(names.len()).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let Some(key) = (0..names.len()).find(|&i| batch.column(i).is_valid(row)) else {
                return exec_err!("a bucket count of no key's grouping set");
            };
            let bucket = batch.column(key).as_primitive::<Int32Type>().value(row);
            sizes[key][usize::try_from(bucket).unwrap_or(0)] += counts.value(row);
        }
    }
    Ok(sizes)
}

/// For each size, the sum of the sizes before it.
fn running(sizes: impl Iterator<Item = i64>) -> Vec<i64> {
    sizes
        .scan(0, |sum, size| {
            let before = *sum;
            *sum += size;
            Some(before)
        })
        .collect()
}

/// A one-row list parameter holding `values`.
fn list(values: ArrayRef) -> ScalarValue {
    let field = Field::new_list_field(values.data_type().clone(), true);
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(field),
        offsets,
        values,
        None,
    )))
}

/// The bucket of `x` among `cuts`: how many cut points are ≤ x, in the
/// order the engine sorts doubles in (`total_cmp`); a null key is in bucket 0,
/// where `NULLS FIRST` puts it. −0 counts as 0 (`x + 0.0`), since a window may
/// see the two as peers.
fn bucket_of(x: Option<f64>, cuts: &[f64]) -> usize {
    x.map_or(0, |x| {
        let x = x + 0.0;
        cuts.partition_point(|c| c.total_cmp(&x).is_le())
    })
}

/// The range functions, to register on a session:
/// - `range_bucket(key, cuts) → INT`: the key's bucket;
/// - `range_offset(key, cuts, offsets) → BIGINT`: the offset of its bucket
///   (`$k_before` or `$k_after`).
pub fn functions() -> [ScalarUDF; 2] {
    [
        ScalarUDF::from(Range::new(Returns::Bucket)),
        ScalarUDF::from(Range::new(Returns::Offset)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Returns {
    Bucket,
    Offset,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Range {
    returns: Returns,
    signature: Signature,
}

impl Range {
    fn new(returns: Returns) -> Range {
        Range {
            returns,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The values of a constant list argument: taken once, never per row.
fn constant_list(arg: &ColumnarValue, what: &str) -> Result<ArrayRef> {
    match arg {
        ColumnarValue::Scalar(ScalarValue::List(list)) if list.len() == 1 => Ok(list.value(0)),
        _ => exec_err!("the {what} of a range function must be a constant list"),
    }
}

impl ScalarUDFImpl for Range {
    fn name(&self) -> &str {
        match self.returns {
            Returns::Bucket => "range_bucket",
            Returns::Offset => "range_offset",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.returns {
            Returns::Bucket => DataType::Int32,
            Returns::Offset => DataType::Int64,
        })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let arity = match self.returns {
            Returns::Bucket => 2,
            Returns::Offset => 3,
        };
        match arg_types.split_first() {
            Some((key, lists))
                if lists.len() == arity - 1 && (key.is_numeric() || key.is_null()) =>
            {
                Ok([&[DataType::Float64], lists].concat())
            }
            _ => plan_err!(
                "{} takes a numeric key and {} constant lists",
                self.name(),
                arity - 1
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (key, lists) = args.args.split_first().expect("coerced arity");
        let cuts = constant_list(&lists[0], "cut points")?;
        let cuts = cuts.as_primitive::<Float64Type>().values();
        let offsets = match self.returns {
            Returns::Bucket => None,
            Returns::Offset => Some(constant_list(&lists[1], "offsets")?),
        };
        let offsets = offsets
            .as_ref()
            .map(|o| o.as_primitive::<Int64Type>().values());
        if offsets.is_some_and(|o| o.len() != cuts.len() + 1) {
            return exec_err!("range_offset needs one offset per bucket");
        }
        let keys = key.to_array(args.number_rows)?;
        let keys = keys.as_primitive::<Float64Type>();
        let result: ArrayRef = match offsets {
            None => Arc::new(
                keys.iter()
                    .map(|x| Some(bucket_of(x, cuts) as i32))
                    .collect::<Int32Array>(),
            ),
            Some(offsets) => Arc::new(
                keys.iter()
                    .map(|x| Some(offsets[bucket_of(x, cuts)]))
                    .collect::<Int64Array>(),
            ),
        };
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_points_split_sorted_keys_evenly_and_never_repeat() {
        let keys = (0..100).map(f64::from).rev().collect();
        assert_eq!(evenly_spaced(keys, 4), [25.0, 50.0, 75.0]);
        assert_eq!(evenly_spaced(vec![1.0; 50], 4), [1.0]);
        assert!(evenly_spaced(Vec::new(), 4).is_empty());
    }

    #[test]
    fn equal_keys_share_a_bucket_and_buckets_follow_the_keys() {
        let cuts = [0.0, 10.0];
        let bucket = |x| bucket_of(Some(x), &cuts);
        assert_eq!(bucket_of(None, &cuts), 0);
        assert_eq!(
            [bucket(-5.0), bucket(0.0), bucket(0.0), bucket(9.9)],
            [0, 1, 1, 1]
        );
        assert_eq!([bucket(10.0), bucket(1e300)], [2, 2]);
        assert_eq!(bucket(-0.0), bucket(0.0));
    }

    #[test]
    fn offsets_count_the_rows_of_the_buckets_before() {
        assert_eq!(running([3, 0, 5, 2].into_iter()), [0, 3, 3, 8]);
    }
}
